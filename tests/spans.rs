//! Every public operation runs in a span named after it, with its ids, its outcome and the rows
//! it touched; a budget refusal is an INFO event and a database error a WARN event.

#[path = "integration/common/mod.rs"]
mod common;

use rust_decimal::dec;
use sark_db::ConnectionTrait;
use sark_db::entity::Protocol;
use sark_db::ledger::budgets::{self, Limits};
use sark_db::ledger::costs::{self, NewCost};
use sark_db::registry::resources::{self, NewResource, ResourceFilter};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One span as a service would see it when it closes.
#[derive(Debug, Clone, Default)]
struct SeenSpan {
    name: &'static str,
    level: Option<Level>,
    fields: BTreeMap<String, String>,
    events: Vec<SeenEvent>,
}

/// One event inside a span.
#[derive(Debug, Clone)]
struct SeenEvent {
    level: Level,
    fields: BTreeMap<String, String>,
}

/// Collects the fields of a span or an event as text.
struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

/// A layer that keeps every span of `sark_db` with its events, in the order they opened. (A
/// span may close later than its operation returns: sqlx's SQLite worker holds the caller's
/// span until its next command, so spans are read as they stand, not on close.)
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<SeenSpan>>>);

/// Where a span's record lives in the recorder.
struct Slot(usize);

impl Recorder {
    /// Applies `change` to the record of span `id`, when it is one of `sark_db`'s.
    fn update<S: Subscriber + for<'a> LookupSpan<'a>>(
        &self,
        id: &Id,
        ctx: &Context<'_, S>,
        change: impl FnOnce(&mut SeenSpan),
    ) {
        let span = ctx.span(id).expect("a live span");
        if let Some(Slot(slot)) = span.extensions().get::<Slot>() {
            change(&mut self.0.lock().unwrap()[*slot]);
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !attrs.metadata().target().starts_with("sark_db") {
            return;
        }
        let mut seen = SeenSpan {
            name: attrs.metadata().name(),
            level: Some(*attrs.metadata().level()),
            ..Default::default()
        };
        attrs.record(&mut Fields(&mut seen.fields));
        let mut spans = self.0.lock().unwrap();
        spans.push(seen);
        ctx.span(id).expect("new span").extensions_mut().insert(Slot(spans.len() - 1));
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        self.update(id, &ctx, |seen| values.record(&mut Fields(&mut seen.fields)));
    }
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.event_span(event) {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            let level = *event.metadata().level();
            self.update(&span.id(), &ctx, |seen| seen.events.push(SeenEvent { level, fields }));
        }
    }
}

impl Recorder {
    /// The spans opened since the last call.
    fn take(&self) -> Vec<SeenSpan> {
        let mut spans = self.0.lock().unwrap();
        let taken = spans.clone();
        spans.iter_mut().for_each(|s| *s = SeenSpan::default());
        taken.into_iter().filter(|s| !s.name.is_empty()).collect()
    }

    /// The one span opened since the last call, which must be named `name`.
    fn only(&self, name: &str) -> SeenSpan {
        let spans = self.take();
        let names: Vec<_> = spans.iter().map(|s| s.name).collect();
        assert_eq!(names, [name], "spans opened");
        spans.into_iter().next().unwrap()
    }
}

fn field<'a>(span: &'a SeenSpan, name: &str) -> &'a str {
    span.fields
        .get(name)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("{} has no {name}: {span:?}", span.name))
}

on_all! {
    async fn operations_trace_their_ids_outcome_rows_and_refusals(db: &Db) {
        let recorder = Recorder::default();
        let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.clone()));

        let limits = Limits { daily: Some(dec!(1)), monthly: None, currency: "USD".into() };
        budgets::set_limits(db, "ann", &limits).await.unwrap();
        let span = recorder.only("budgets::set_limits");
        assert_eq!((span.level, field(&span, "principal_id"), field(&span, "outcome")), (Some(Level::INFO), "ann", "ok"));

        let cost = NewCost::new("ann", "search-api", "query").actual(dec!(0.6));
        costs::charge(db, &cost).await.unwrap();
        let span = recorder.only("costs::charge");
        assert_eq!(span.level, Some(Level::INFO));
        assert_eq!(
            [field(&span, "principal_id"), field(&span, "resource_id"), field(&span, "capability_id"), field(&span, "outcome")],
            ["ann", "search-api", "query", "ok"]
        );
        assert!(span.events.is_empty(), "a charge that succeeds emits no event: {span:?}");

        // 0.6 + 0.6 > 1: refused, as an INFO event with the window's numbers.
        costs::charge(db, &cost).await.unwrap_err();
        let span = recorder.only("costs::charge");
        assert_eq!(field(&span, "outcome"), "refused");
        let [event] = span.events.as_slice() else { panic!("one event expected: {span:?}") };
        assert_eq!(event.level, Level::INFO);
        assert_eq!((event.fields["message"].as_str(), event.fields["window"].as_str()), ("budget refused", "daily"));
        let numbers = ["limit", "spent", "requested"].map(|k| event.fields[k].parse::<rust_decimal::Decimal>().unwrap());
        assert_eq!(numbers, [dec!(1), dec!(0.6), dec!(0.6)]);

        costs::charge(db, &NewCost::new(" ", "search-api", "query").actual(dec!(0.1))).await.unwrap_err();
        assert_eq!(field(&recorder.only("costs::charge"), "outcome"), "invalid");

        for name in ["one", "two"] {
            resources::create(db, &NewResource::new(name, Protocol::Http, "https://x.example")).await.unwrap();
        }
        recorder.take();
        resources::list(db, &ResourceFilter::default()).await.unwrap();
        let span = recorder.only("resources::list");
        assert_eq!((span.level, field(&span, "rows"), field(&span, "outcome")), (Some(Level::DEBUG), "2", "ok"));

        resources::get(db, "nowhere").await.unwrap_err();
        let span = recorder.only("resources::get");
        assert_eq!((field(&span, "resource_id"), field(&span, "outcome")), ("nowhere", "not_found"));

        // A database error: the table is gone.
        db.execute_unprepared("DROP TABLE federation_nodes").await.unwrap();
        sark_db::federation::get(db, "globex").await.unwrap_err();
        let span = recorder.only("federation::get");
        assert_eq!(field(&span, "outcome"), "db_error");
        assert_eq!(span.events.iter().map(|e| e.level).collect::<Vec<_>>(), [Level::WARN]);
    }
}
