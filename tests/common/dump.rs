//! Product dumps for the dataset tests: gzip helpers and a small JSONL dump.

use std::io::{Read, Write};

/// Where the stand-in's static host serves the dump.
pub const DUMP_PATH: &str = "/data/openfoodfacts-products.jsonl.gz";

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("gunzip");
    out
}

/// A gzipped dump of food products `codes`, and one line that is not JSON.
pub fn dump_of(codes: &[&str]) -> Vec<u8> {
    let mut text = String::new();
    for code in codes {
        text.push_str(&format!(
            "{{\"code\": \"{code}\", \"product_type\": \"food\", \"product_name\": \"P {code}\", \"brands_tags\": [\"b\"]}}\n"
        ));
    }
    text.push_str("not json\n");
    gzip(text.as_bytes())
}
