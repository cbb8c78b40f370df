//! The supervision tree: every actor of the node runs; a panicking actor is restarted
//! by name and counted in the restart metric.

mod common;

use common::{fresh_database, settings, spawn_app, wait_until};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use robotoff::actors::supervisor::{ChildSpec, SupervisorMsg};
use robotoff::actors::{self, call};
use std::time::Duration;

struct Crasher;

enum CrasherMsg {
    Panic,
}

#[ractor::async_trait]
impl Actor for Crasher {
    type Msg = CrasherMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Self::Msg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: Self::Msg,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            CrasherMsg::Panic => panic!("crasher asked to panic"),
        }
    }
}

fn restarts_in_metrics(actor: &str) -> f64 {
    let text = robotoff::infra::metrics::render();
    let prefix = format!("robotoff_actor_restarts_total{{actor=\"{actor}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_actor_of_the_tree_is_running() {
    let url = fresh_database().await;
    let mut s = settings(&url);
    s.workers.shards = 3;
    let app = spawn_app(s).await;
    let running = call(
        &app.supervisor,
        SupervisorMsg::Running,
        Duration::from_secs(5),
    )
    .await
    .expect("running");
    let names = &app.services.names;
    for base in [
        actors::JOB_DISPATCHER,
        actors::ML_DISPATCHER,
        actors::TRITON_POOL,
        actors::INSIGHT_IMPORTER,
        actors::LOGO_INDEX,
        actors::SCHEDULER,
    ] {
        assert!(
            running.contains(&names.of(base)),
            "{base} not running: {running:?}"
        );
    }
    for shard in 0..3 {
        assert!(
            running.contains(&names.shard(shard)),
            "shard {shard} not running"
        );
    }
    // No Redis configured: no listener, no cluster link.
    assert!(!running.contains(&names.of(actors::UPDATE_LISTENER)));
    assert!(!running.contains(&names.of(actors::CLUSTER_LINK)));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_actor_is_restarted_and_counted() {
    let url = fresh_database().await;
    let app = spawn_app(settings(&url)).await;
    let name = app.services.names.of("crasher");
    let spec = ChildSpec::new(name.clone(), name.clone(), || (Crasher, ()));
    call(
        &app.supervisor,
        |r| SupervisorMsg::Start(spec, r),
        Duration::from_secs(5),
    )
    .await
    .expect("call")
    .expect("started");
    let label = robotoff::actors::supervisor::metric_label(&name).to_string();
    let before = restarts_in_metrics(&label);
    let first: ActorRef<CrasherMsg> = ActorRef::where_is(name.clone()).expect("crasher registered");
    first.cast(CrasherMsg::Panic).expect("cast");

    wait_until(Duration::from_secs(10), "restart counted", || {
        let label = label.clone();
        async move { (restarts_in_metrics(&label) >= before + 1.0).then_some(()) }
    })
    .await;
    let second: ActorRef<CrasherMsg> =
        wait_until(Duration::from_secs(10), "crasher running again", || {
            let name = name.clone();
            async move { ActorRef::where_is(name) }
        })
        .await;
    assert_ne!(
        first.get_id(),
        second.get_id(),
        "a new instance was started"
    );
    let restarts = call(
        &app.supervisor,
        SupervisorMsg::Restarts,
        Duration::from_secs(5),
    )
    .await
    .expect("restarts");
    assert_eq!(restarts.get(&name), Some(&1));
    app.shutdown().await;
}
