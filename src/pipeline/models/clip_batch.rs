//! CLIP calls shared by every image of the node: crops from several images go to Triton
//! together, at most `ml.clip_batch` per call, a partial batch waiting `ml.clip_linger_ms`
//! for more (spec pipeline §7.4: chunks of ≤ 32).

use crate::infra::triton::{Tensor, TritonClient, TritonError};
use crate::ml::models::{
    CLIP_ATTENTION_MASK_NAME, CLIP_IMAGE_SIZE, CLIP_INPUT_IDS, CLIP_INPUT_IDS_NAME,
    CLIP_MAX_BATCH_SIZE, CLIP_MODEL_NAME, CLIP_OUTPUT_NAME, CLIP_PIXEL_VALUES_NAME,
};
use bytes::{Bytes, BytesMut};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Why crops got no embeddings.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EmbedError {
    #[error(transparent)]
    Triton(#[from] TritonError),
    #[error("CLIP answered {0}")]
    Output(String),
    #[error("the CLIP batcher has stopped")]
    Stopped,
}

type Reply = oneshot::Sender<Result<Vec<Vec<f32>>, EmbedError>>;

/// The crops of one caller and where their embeddings go.
struct Request {
    crops: Vec<Bytes>,
    reply: Reply,
}

/// One caller's embeddings as they come back from (possibly several) calls.
struct Assembly {
    results: Vec<Option<Vec<f32>>>,
    missing: usize,
    reply: Option<Reply>,
}

impl Assembly {
    fn fill(&mut self, index: usize, embedding: Vec<f32>) {
        if let Some(slot) = self.results.get_mut(index) {
            if slot.is_none() {
                self.missing = self.missing.saturating_sub(1);
            }
            *slot = Some(embedding);
        }
        if self.missing == 0 {
            if let Some(reply) = self.reply.take() {
                let done = std::mem::take(&mut self.results)
                    .into_iter()
                    .flatten()
                    .collect();
                let _ = reply.send(Ok(done));
            }
        }
    }

    fn fail(&mut self, error: EmbedError) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(Err(error));
        }
    }
}

/// One crop waiting for a call: whose it is and where it goes.
struct Unit {
    owner: Arc<Mutex<Assembly>>,
    index: usize,
    pixels: Bytes,
}

/// Batches CLIP crops across callers. The batching task starts on first use.
pub struct ClipBatcher {
    triton: Arc<TritonClient>,
    limit: Arc<Semaphore>,
    batch: usize,
    linger: Duration,
    sender: OnceLock<mpsc::Sender<Request>>,
}

impl ClipBatcher {
    pub fn new(
        triton: Arc<TritonClient>,
        limit: Arc<Semaphore>,
        batch: usize,
        linger: Duration,
    ) -> ClipBatcher {
        ClipBatcher {
            triton,
            limit,
            batch: batch.clamp(1, CLIP_MAX_BATCH_SIZE),
            linger,
            sender: OnceLock::new(),
        }
    }

    /// The embeddings of `crops` (each the CHW float32 little-endian pixels of one
    /// 224×224 crop), in order.
    pub async fn embed(&self, crops: Vec<Bytes>) -> Result<Vec<Vec<f32>>, EmbedError> {
        if crops.is_empty() {
            return Ok(Vec::new());
        }
        let sender = self.sender.get_or_init(|| {
            let (tx, rx) = mpsc::channel(1024);
            tokio::spawn(run(
                rx,
                self.triton.clone(),
                self.limit.clone(),
                self.batch,
                self.linger,
            ));
            tx
        });
        let (reply, answer) = oneshot::channel();
        sender
            .send(Request { crops, reply })
            .await
            .map_err(|_| EmbedError::Stopped)?;
        answer.await.map_err(|_| EmbedError::Stopped)?
    }
}

/// The batching loop: gathers crops until a batch is full or the linger has passed,
/// then calls CLIP (at most `limit` calls at once) while gathering the next batch.
async fn run(
    mut requests: mpsc::Receiver<Request>,
    triton: Arc<TritonClient>,
    limit: Arc<Semaphore>,
    batch: usize,
    linger: Duration,
) {
    let mut pending: Vec<Unit> = Vec::new();
    loop {
        if pending.is_empty() {
            match requests.recv().await {
                Some(r) => accept(r, &mut pending),
                None => return,
            }
        }
        let deadline = tokio::time::Instant::now() + linger;
        while pending.len() < batch {
            tokio::select! {
                next = requests.recv() => match next {
                    Some(r) => accept(r, &mut pending),
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        // Full batches go first; a partial one goes when its linger is over.
        while !pending.is_empty() {
            let take = pending.len().min(batch);
            let units: Vec<Unit> = pending.drain(..take).collect();
            let Ok(permit) = limit.clone().acquire_owned().await else {
                for u in units {
                    lock(&u.owner).fail(EmbedError::Stopped);
                }
                return;
            };
            let triton = triton.clone();
            tokio::spawn(async move {
                call(&triton, units).await;
                drop(permit);
            });
            if pending.len() < batch {
                break;
            }
        }
    }
}

fn accept(request: Request, pending: &mut Vec<Unit>) {
    let n = request.crops.len();
    let owner = Arc::new(Mutex::new(Assembly {
        results: vec![None; n],
        missing: n,
        reply: Some(request.reply),
    }));
    for (index, pixels) in request.crops.into_iter().enumerate() {
        pending.push(Unit {
            owner: owner.clone(),
            index,
            pixels,
        });
    }
}

fn lock(owner: &Arc<Mutex<Assembly>>) -> std::sync::MutexGuard<'_, Assembly> {
    owner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One CLIP call for `units`; every owner gets its embeddings or the error.
async fn call(triton: &TritonClient, units: Vec<Unit>) {
    let n = units.len();
    let mut pixels = BytesMut::with_capacity(units.iter().map(|u| u.pixels.len()).sum());
    for u in &units {
        pixels.extend_from_slice(&u.pixels);
    }
    let answer = embed_batch(triton, pixels.freeze(), n).await;
    match answer {
        Ok(rows) => {
            for (u, row) in units.into_iter().zip(rows) {
                lock(&u.owner).fill(u.index, row);
            }
        }
        Err(e) => {
            for u in units {
                lock(&u.owner).fail(e.clone());
            }
        }
    }
}

/// Calls CLIP on `n` crops laid out one after another in `pixels`.
pub async fn embed_batch(
    triton: &TritonClient,
    pixels: Bytes,
    n: usize,
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let b = n as i64;
    let side = i64::from(CLIP_IMAGE_SIZE);
    let inputs = [
        Tensor::f32_le_bytes(CLIP_PIXEL_VALUES_NAME, &[b, 3, side, side], pixels),
        Tensor::i64(CLIP_ATTENTION_MASK_NAME, &[b, 2], vec![1; n * 2]),
        Tensor::i64(
            CLIP_INPUT_IDS_NAME,
            &[b, 2],
            std::iter::repeat_n(CLIP_INPUT_IDS, n).flatten().collect(),
        ),
    ];
    let outputs = triton
        .infer(CLIP_MODEL_NAME, "", &inputs, &[CLIP_OUTPUT_NAME])
        .await?;
    let values = outputs
        .first()
        .and_then(|o| o.f32s())
        .ok_or_else(|| EmbedError::Output("no float32 image_embeds".into()))?;
    if n == 0 || values.len() % n != 0 || values.is_empty() {
        return Err(EmbedError::Output(format!(
            "{} values for {n} crops",
            values.len()
        )));
    }
    let dim = values.len() / n;
    Ok(values.chunks_exact(dim).map(<[f32]>::to_vec).collect())
}
