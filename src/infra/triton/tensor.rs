//! Tensors as Triton's raw contents carry them: little-endian, C order, one buffer per
//! input; BYTES elements as a 4-byte little-endian length followed by the bytes.

use super::proto::model_infer_request::InferInputTensor;
use super::proto::model_infer_response::InferOutputTensor;
use bytes::Bytes;

/// The values of an input tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    /// FP32 values already laid out as little-endian bytes (4 per value).
    F32Bytes(Bytes),
    I64(Vec<i64>),
    /// BYTES / STRING elements.
    Bytes(Vec<Vec<u8>>),
}

/// An input tensor: name, shape (batch dimension included) and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<i64>,
    pub data: TensorData,
}

impl Tensor {
    pub fn f32(name: &str, shape: &[i64], values: Vec<f32>) -> Tensor {
        Tensor {
            name: name.to_string(),
            shape: shape.to_vec(),
            data: TensorData::F32(values),
        }
    }

    /// An FP32 tensor from its little-endian bytes (no copy).
    pub fn f32_le_bytes(name: &str, shape: &[i64], values: Bytes) -> Tensor {
        Tensor {
            name: name.to_string(),
            shape: shape.to_vec(),
            data: TensorData::F32Bytes(values),
        }
    }

    pub fn i64(name: &str, shape: &[i64], values: Vec<i64>) -> Tensor {
        Tensor {
            name: name.to_string(),
            shape: shape.to_vec(),
            data: TensorData::I64(values),
        }
    }

    pub fn bytes(name: &str, shape: &[i64], values: Vec<Vec<u8>>) -> Tensor {
        Tensor {
            name: name.to_string(),
            shape: shape.to_vec(),
            data: TensorData::Bytes(values),
        }
    }

    /// Triton's datatype name.
    pub fn datatype(&self) -> &'static str {
        match self.data {
            TensorData::F32(_) | TensorData::F32Bytes(_) => "FP32",
            TensorData::I64(_) => "INT64",
            TensorData::Bytes(_) => "BYTES",
        }
    }

    /// Elements the shape calls for.
    pub fn expected_len(&self) -> usize {
        self.shape
            .iter()
            .map(|d| usize::try_from(*d).unwrap_or(0))
            .product()
    }

    /// Elements held.
    pub fn len(&self) -> usize {
        match &self.data {
            TensorData::F32(v) => v.len(),
            // A partial value never matches a shape.
            TensorData::F32Bytes(b) if b.len() % 4 == 0 => b.len() / 4,
            TensorData::F32Bytes(_) => usize::MAX,
            TensorData::I64(v) => v.len(),
            TensorData::Bytes(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The raw contents sent in `raw_input_contents`.
    pub fn raw(&self) -> Bytes {
        match &self.data {
            TensorData::F32(v) => {
                let mut out = Vec::with_capacity(v.len() * 4);
                for x in v {
                    out.extend_from_slice(&x.to_le_bytes());
                }
                out.into()
            }
            TensorData::F32Bytes(b) => b.clone(),
            TensorData::I64(v) => {
                let mut out = Vec::with_capacity(v.len() * 8);
                for x in v {
                    out.extend_from_slice(&x.to_le_bytes());
                }
                out.into()
            }
            TensorData::Bytes(v) => encode_bytes(v).into(),
        }
    }

    /// The tensor's header in the request (its contents travel as raw bytes).
    pub fn header(&self) -> InferInputTensor {
        InferInputTensor {
            name: self.name.clone(),
            datatype: self.datatype().to_string(),
            shape: self.shape.clone(),
            parameters: Default::default(),
            contents: None,
        }
    }
}

/// BYTES elements as Triton (and Robotoff's client) lay them out.
pub fn encode_bytes(elements: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(elements.iter().map(|e| e.len() + 4).sum());
    for e in elements {
        let len = u32::try_from(e.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(e);
    }
    out
}

/// The elements of a BYTES buffer; `None` when a length runs past the end.
pub fn decode_bytes(raw: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let len_bytes: [u8; 4] = rest.get(..4)?.try_into().ok()?;
        let len = u32::from_le_bytes(len_bytes) as usize;
        let element = rest.get(4..4 + len)?;
        out.push(element.to_vec());
        rest = rest.get(4 + len..)?;
    }
    Some(out)
}

/// An output tensor as answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub name: String,
    pub datatype: String,
    pub shape: Vec<i64>,
    pub raw: Bytes,
}

impl Output {
    pub fn new(header: &InferOutputTensor, raw: Bytes) -> Output {
        Output {
            name: header.name.clone(),
            datatype: header.datatype.clone(),
            shape: header.shape.clone(),
            raw,
        }
    }

    /// FP32 values; `None` when the tensor is not FP32 or its length is not whole.
    pub fn f32s(&self) -> Option<Vec<f32>> {
        if self.datatype != "FP32" || !self.raw.len().is_multiple_of(4) {
            return None;
        }
        Some(
            self.raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }

    /// BYTES elements.
    pub fn strings(&self) -> Option<Vec<Vec<u8>>> {
        if self.datatype != "BYTES" {
            return None;
        }
        decode_bytes(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_contents_are_little_endian_and_bytes_length_prefixed() {
        let t = Tensor::f32("x", &[1, 2], vec![1.0, -2.5]);
        assert_eq!(
            t.raw(),
            [1.0f32.to_le_bytes(), (-2.5f32).to_le_bytes()].concat()
        );
        assert_eq!(t.datatype(), "FP32");
        assert_eq!(t.expected_len(), 2);
        let ids = Tensor::i64("ids", &[1, 2], vec![49406, 49407]);
        assert_eq!(&ids.raw()[..8], &49406i64.to_le_bytes());
        let s = Tensor::bytes("s", &[1, 2], vec![b"ab".to_vec(), Vec::new()]);
        assert_eq!(s.raw(), vec![2, 0, 0, 0, b'a', b'b', 0, 0, 0, 0]);
        assert_eq!(
            decode_bytes(&s.raw()),
            Some(vec![b"ab".to_vec(), Vec::new()])
        );
        assert_eq!(decode_bytes(&[5, 0, 0, 0, b'a']), None);
        let out = Output {
            name: "o".into(),
            datatype: "FP32".into(),
            shape: vec![1],
            raw: Bytes::copy_from_slice(&3.5f32.to_le_bytes()),
        };
        assert_eq!(out.f32s(), Some(vec![3.5]));
        assert_eq!(out.strings(), None);
    }
}
