//! The `/` filter query language: every term kind, errors with spans, and round trips through `describe`.
#![allow(clippy::unwrap_used)] // a test or bench that cannot go on should stop loudly

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use vigil::model::query::{QueryError, describe, parse, without_key};
use vigil::model::{AlertFilter, AlertStatus, AssigneeFilter, Severity};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 30, 0).unwrap()
}

fn p(q: &str) -> AlertFilter {
    parse(q, now()).unwrap_or_else(|e| panic!("{q:?}: {e:?}"))
}

fn err(q: &str) -> QueryError {
    match parse(q, now()) {
        Ok(f) => panic!("{q:?} parsed to {f:?}"),
        Err(e) => e,
    }
}

/// The text an error's span points at.
fn spanned<'a>(q: &'a str, e: &QueryError) -> &'a str {
    &q[e.start..e.end]
}

#[test]
fn empty_query_is_the_default_filter() {
    assert_eq!(p(""), AlertFilter::default());
    assert_eq!(p("   \t "), AlertFilter::default());
    assert_eq!(describe(&AlertFilter::default()), "");
}

#[test]
fn design_example() {
    let f = p("status:open sev:>=high actor:ana det:page-crawling since:7d free text");
    assert_eq!(
        f,
        AlertFilter {
            statuses: vec![AlertStatus::Open],
            min_severity: Some(Severity::High),
            actor_text: Some("ana".into()),
            detection: Some("page-crawling".into()),
            since: Some(now() - Duration::days(7)),
            text: Some("free text".into()),
            ..Default::default()
        }
    );
}

#[test]
fn statuses() {
    assert_eq!(p("status:open").statuses, vec![AlertStatus::Open]);
    assert_eq!(
        p("status:open,acknowledged").statuses,
        vec![AlertStatus::Open, AlertStatus::Acknowledged]
    );
    assert_eq!(p("status:ack").statuses, vec![AlertStatus::Acknowledged]);
    assert_eq!(p("STATUS:tp").statuses, vec![AlertStatus::TruePositive]);
    assert_eq!(
        p("status:open status:benign status:open").statuses,
        vec![AlertStatus::Open, AlertStatus::Expected]
    );
    let q = "status:open,frob";
    let e = err(q);
    assert!(e.message.contains("'frob'"), "{e}");
    assert_eq!(spanned(q, &e), "open,frob");
}

#[test]
fn severities() {
    let sev = |q: &str| {
        let f = p(q);
        (f.min_severity, f.max_severity)
    };
    use Severity::*;
    assert_eq!(sev("sev:high"), (Some(High), Some(High)));
    assert_eq!(sev("severity:=crit"), (Some(Critical), Some(Critical)));
    assert_eq!(sev("sev:>=high"), (Some(High), None));
    assert_eq!(sev("sev:>high"), (Some(Critical), None));
    assert_eq!(sev("sev:<=medium"), (None, Some(Medium)));
    assert_eq!(sev("sev:<medium"), (None, Some(Low)));
    assert_eq!(sev("sev:>=low sev:<=high"), (Some(Low), Some(High)));
    // Terms intersect.
    assert_eq!(sev("sev:>=low sev:>=high"), (Some(High), None));

    let q = "sev:>critical";
    assert!(err(q).message.contains("critical"));
    assert_eq!(spanned(q, &err(q)), ">critical");
    assert!(err("sev:<low").message.contains("low"));
    let q = "status:open sev:>=hgh";
    let e = err(q);
    assert!(e.message.contains("'hgh'"), "{e}");
    assert_eq!(spanned(q, &e), ">=hgh");
    let q = "sev:>=high sev:<=low";
    let e = err(q);
    assert_eq!(spanned(q, &e), "sev:<=low");
    assert!(e.message.contains("no severity"), "{e}");
}

#[test]
fn actors() {
    let f = p("actor:ana");
    assert_eq!((f.actor, f.actor_text), (None, Some("ana".into())));
    let f = p("actor:ana@example.com");
    assert_eq!(f.actor.as_deref(), Some("ana@example.com"));
    let f = p("actor:5b10ac8d82e05b22cc7d4ef5");
    assert_eq!(f.actor.as_deref(), Some("5b10ac8d82e05b22cc7d4ef5"));
    let f = p(r#"actor:"Ana Lima""#);
    assert_eq!(f.actor_text.as_deref(), Some("Ana Lima"));
    let f = p(r#"actor:="Ana Lima""#);
    assert_eq!(f.actor.as_deref(), Some("Ana Lima"));
    let f = p("actor:~557058");
    assert_eq!(f.actor_text.as_deref(), Some("557058"));
    assert!(err("actor:ana actor:bob").message.contains("twice"));
    let q = "actor:";
    let e = err(q);
    assert!(e.message.contains("needs a value"), "{e}");
    assert_eq!(spanned(q, &e), "actor:");
}

#[test]
fn assignees() {
    assert_eq!(
        p("assignee:ana").assignee,
        Some(AssigneeFilter::Named("ana".into()))
    );
    assert_eq!(p("assignee:me").assignee, Some(AssigneeFilter::Me));
    assert_eq!(p("Assignee:ME").assignee, Some(AssigneeFilter::Me));
    assert_eq!(p("assignee:none").assignee, Some(AssigneeFilter::Nobody));
    assert_eq!(p("assignee:NONE").assignee, Some(AssigneeFilter::Nobody));
    assert_eq!(
        p(r#"assignee:"Ana Lima""#).assignee,
        Some(AssigneeFilter::Named("Ana Lima".into()))
    );
    // Someone really called "me" or "none": `=` takes the value as a name.
    assert_eq!(
        p("assignee:=me").assignee,
        Some(AssigneeFilter::Named("me".into()))
    );
    assert!(err("assignee:me assignee:bob").message.contains("twice"));
    let q = "status:open assignee:";
    let e = err(q);
    assert!(e.message.contains("needs a value"), "{e}");
    assert_eq!(spanned(q, &e), "assignee:");
    // `me` is not part of the query: whoever runs it says who that is.
    assert_eq!(p("assignee:me").me, None);
}

#[test]
fn assignee_matching_is_case_insensitive_and_me_is_whoever_runs_the_query() {
    let mut a: vigil::model::Alert = serde_json::from_value(serde_json::json!({
        "id": "01M6DMMJZ00000000000000005",
        "detection": "page-crawling",
        "title": "Page crawling",
        "severity": "medium",
        "status": "open",
        "created": "2026-11-02T08:00:00Z",
        "time_start": "2026-11-02T08:00:00Z",
        "actor": { "id": "acc-1" },
        "count": 1,
        "description": "",
        "version": 1,
        "group_key": "g"
    }))
    .unwrap();
    assert!(p("assignee:none").matches(&a));
    assert!(!p("assignee:ana").matches(&a));
    assert!(!p("assignee:me").matches(&a));
    a.assignee = Some("李小龍 🦊".into());
    assert!(!p("assignee:none").matches(&a));
    assert!(p(r#"assignee:"李小龍 🦊""#).matches(&a));
    a.assignee = Some("Ana".into());
    assert!(p("assignee:ANA").matches(&a));
    let mut mine = p("assignee:me");
    assert!(!mine.matches(&a), "nobody said who 'me' is");
    mine.me = Some("ana".into());
    assert!(mine.matches(&a));
    mine.me = Some("bob".into());
    assert!(!mine.matches(&a));
}

#[test]
fn without_key_drops_one_key_and_keeps_the_rest_as_typed() {
    assert_eq!(
        without_key(
            r#"Assignee:"Ana Lima" status:open "bulk export" since:7d"#,
            "assignee"
        ),
        r#"status:open "bulk export" since:7d"#
    );
    assert_eq!(without_key("assignee:me", "assignee"), "");
    assert_eq!(without_key("10:30 assignee:=me x", "assignee"), "10:30 x");
    // Not a query (unterminated quote): left alone.
    assert_eq!(without_key(r#"assignee:"x"#, "assignee"), r#"assignee:"x"#);
}

#[test]
fn detections() {
    assert_eq!(
        p("det:page-crawling").detection.as_deref(),
        Some("page-crawling")
    );
    assert_eq!(
        p("detection:custom:falcon-leak").detection.as_deref(),
        Some("custom:falcon-leak")
    );
    assert!(err("det:a det:b").message.contains("twice"));
}

#[test]
fn times() {
    assert_eq!(p("since:7d").since, Some(now() - Duration::days(7)));
    assert_eq!(p("since:12h").since, Some(now() - Duration::hours(12)));
    assert_eq!(p("since:30m").since, Some(now() - Duration::minutes(30)));
    assert_eq!(p("since:2w").since, Some(now() - Duration::weeks(2)));
    assert_eq!(p("since:90s").since, Some(now() - Duration::seconds(90)));
    assert_eq!(
        p("since:2026-11-01").since,
        Some(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap())
    );
    assert_eq!(
        p("since:2026-11-01T10:00:00Z").since,
        Some(Utc.with_ymd_and_hms(2026, 11, 1, 10, 0, 0).unwrap())
    );
    assert_eq!(
        p("since:2026-11-01T10:00:00+02:00").since,
        Some(Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap())
    );
    assert_eq!(
        p("since:2026-11-01T10:00").since,
        Some(Utc.with_ymd_and_hms(2026, 11, 1, 10, 0, 0).unwrap())
    );
    assert_eq!(
        p("since:today").since,
        Some(Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap())
    );
    assert_eq!(
        p("until:yesterday").until,
        Some(Utc.with_ymd_and_hms(2026, 11, 19, 0, 0, 0).unwrap())
    );
    assert_eq!(
        p("until:2026-11-15").until,
        Some(Utc.with_ymd_and_hms(2026, 11, 15, 0, 0, 0).unwrap())
    );

    let q = "status:open since:7y";
    let e = err(q);
    assert_eq!(spanned(q, &e), "7y");
    assert!(e.message.contains("unit"), "{e}");
    let q = "since:2026-13-01";
    assert_eq!(spanned(q, &err(q)), "2026-13-01");
    assert!(
        err("since:99999999999999999999d")
            .message
            .contains("too far")
    );
    assert!(err("since:9999999999999d").message.contains("too far"));
    assert!(err("since:1d since:2d").message.contains("twice"));
}

#[test]
fn free_text_and_phrases() {
    assert_eq!(p("free text").text.as_deref(), Some("free text"));
    assert_eq!(p(r#""bulk export""#).text.as_deref(), Some("bulk export"));
    assert_eq!(p(r#""two  spaces""#).text.as_deref(), Some("two  spaces"));
    assert_eq!(
        p(r#"status:open "bulk export" now"#).text.as_deref(),
        Some("bulk export now")
    );
    assert_eq!(
        p(r#""a \"quoted\" word""#).text.as_deref(),
        Some(r#"a "quoted" word"#)
    );
    // A colon whose left side is no key name is just text; quoting makes any colon text.
    assert_eq!(p("10:30").text.as_deref(), Some("10:30"));
    assert_eq!(p(r#""foo:bar""#).text.as_deref(), Some("foo:bar"));
    assert_eq!(p("héllo wörld").text.as_deref(), Some("héllo wörld"));
}

#[test]
fn unknown_key_names_it_and_lists_the_valid_ones() {
    let q = "status:open foo:bar";
    let e = err(q);
    assert_eq!(spanned(q, &e), "foo");
    assert!(e.message.contains("'foo'"), "{e}");
    for k in [
        "status", "sev", "actor", "assignee", "det", "since", "until",
    ] {
        assert!(e.message.contains(k), "{e}");
    }
    assert_eq!(e.to_string(), e.message);
}

#[test]
fn unterminated_quote() {
    let q = r#"status:open "bulk export"#;
    let e = err(q);
    assert_eq!(spanned(q, &e), r#""bulk export"#);
    assert!(e.message.contains("quote"));
}

#[test]
fn describe_is_canonical() {
    let f = p("free text det:page-crawling since:2026-11-01 actor:ana sev:>=high status:open,ack");
    assert_eq!(
        describe(&f),
        "status:open,acknowledged sev:>=high actor:ana det:page-crawling since:2026-11-01T00:00:00Z free text"
    );
    assert_eq!(describe(&p("sev:high")), "sev:high");
    assert_eq!(describe(&p("sev:<medium")), "sev:<=low");
    assert_eq!(describe(&p(r#"actor:="ana""#)), "actor:=ana");
    assert_eq!(describe(&p(r#"actor:~a@b"#)), "actor:~a@b");
    assert_eq!(describe(&p(r#""x:y""#)), r#""x:y""#);
    assert_eq!(
        describe(&p("Assignee:ME status:open")),
        "status:open assignee:me"
    );
    assert_eq!(describe(&p("assignee:None")), "assignee:none");
    assert_eq!(
        describe(&p(r#"assignee:"Ana Lima""#)),
        r#"assignee:"Ana Lima""#
    );
    assert_eq!(describe(&p("assignee:=me")), "assignee:=me");
    assert_eq!(describe(&p("assignee:==x")), "assignee:==x");
}

fn status() -> impl Strategy<Value = AlertStatus> {
    prop::sample::select(AlertStatus::ALL.to_vec())
}

fn severity() -> impl Strategy<Value = Severity> {
    prop::sample::select(Severity::ALL.to_vec())
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    // 1970 … 2100, to the nanosecond.
    (0i64..4_102_444_800, 0u32..1_000_000_000)
        .prop_map(|(s, ns)| Utc.timestamp_opt(s, ns).single().unwrap_or_default())
}

/// Any non-empty string, including quotes, backslashes, colons and odd whitespace.
fn value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 @:=~\"\\\\,.é\t-]{1,16}"
}

/// Any assignee term, including names that read like `me` or `none` or start with `=`.
fn assignee() -> impl Strategy<Value = AssigneeFilter> {
    prop_oneof![
        Just(AssigneeFilter::Me),
        Just(AssigneeFilter::Nobody),
        Just(AssigneeFilter::Named("me".into())),
        Just(AssigneeFilter::Named("None".into())),
        value().prop_map(AssigneeFilter::Named),
    ]
}

prop_compose! {
    fn filter()(
        statuses in prop::collection::btree_set(status(), 0..4),
        min in prop::option::of(severity()),
        max in prop::option::of(severity()),
        detection in prop::option::of(value()),
        actor in prop::option::of(value()),
        actor_text in prop::option::of(value()),
        since in prop::option::of(time()),
        until in prop::option::of(time()),
        text in prop::option::of(value()),
        assignee in prop::option::of(assignee()),
    ) -> AlertFilter {
        let (min_severity, max_severity) = match (min, max) {
            (Some(a), Some(b)) if a > b => (Some(b), Some(a)),
            other => other,
        };
        AlertFilter {
            statuses: statuses.into_iter().collect(),
            min_severity,
            max_severity,
            detection,
            actor,
            actor_text,
            since,
            until,
            // Free text is words joined by spaces or a phrase: surrounding whitespace alone cannot round-trip
            // as bare words, but a phrase keeps it.
            text,
            assignee,
            me: None,
            ascending: false,
            by_severity: false,
        }
    }
}

proptest! {
    #[test]
    fn parse_never_panics(q in "\\PC{0,64}") {
        let _ = parse(&q, now());
    }

    #[test]
    fn parse_never_panics_on_query_like_text(q in "((status|sev|actor|assignee|me|none|det|since|until|foo|\"|:|>=|<|=|~|,|\\\\| |7d|2026-11-01|high|open|é)){0,12}") {
        if let Err(e) = parse(&q, now()) {
            prop_assert!(e.start <= e.end && e.end <= q.len());
            prop_assert!(q.is_char_boundary(e.start) && q.is_char_boundary(e.end));
        }
    }

    #[test]
    fn describe_round_trips(f in filter()) {
        let q = describe(&f);
        prop_assert_eq!(parse(&q, now()), Ok(f), "query: {}", q);
    }
}
