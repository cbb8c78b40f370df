//! InsightImporter: loads the importer data files at start (so the first import does not
//! wait for them) and routes imports of any products to the shards that own them. The
//! import itself is `insights::import`, run inside each product's shard.

use super::shards::{import_via_shards, ImportRouteError};
use super::Services;
use crate::insights::import::{shared_resources, ImportSummary};
use crate::types::{Prediction, ServerType};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

pub enum ImporterMsg {
    /// Import predictions of any products, each through its shard.
    Import {
        server_type: ServerType,
        predictions: Vec<Prediction>,
        reply: RpcReplyPort<Result<ImportSummary, ImportRouteError>>,
    },
}

pub struct InsightImporter;

pub struct ImporterState {
    services: Services,
}

#[ractor::async_trait]
impl Actor for InsightImporter {
    type Msg = ImporterMsg;
    type State = ImporterState;
    type Arguments = Services;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        services: Services,
    ) -> Result<Self::State, ActorProcessingErr> {
        // Missing data files do not stop the node: imports then fail with the reason.
        if let Err(e) = shared_resources(&services.settings.data.dir).await {
            tracing::error!(error = %e, "importer data files not loaded");
        }
        Ok(ImporterState { services })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ImporterMsg::Import {
                server_type,
                predictions,
                reply,
            } => {
                let services = state.services.clone();
                // Answered from a task: the shards do the work, this actor stays free.
                tokio::spawn(async move {
                    let _ =
                        reply.send(import_via_shards(&services, server_type, predictions).await);
                });
            }
        }
        Ok(())
    }
}
