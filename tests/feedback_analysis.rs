//! The analysis of feedback on a generated set of 10,200 items over 60
//! days, whose answers the test works out itself from what it generated:
//! volumes, ratings, CSAT, the daily trend and its slope, top issues
//! counted by people, variants and flag states with their Welch tests, the
//! success metrics, and ranges that cut days in two.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cha_deploy::common::time::parse_rfc3339_ms;
use cha_deploy::feedback::analyze::{DAY_MS, FeedbackAnalysis, Period};
use cha_deploy::feedback::{FeedbackType, Status, Submission, Triage};
use cha_deploy::flags::Context;
use cha_deploy::stats::{Summary, welch};
use cha_deploy::{Cha, FeedbackAnalysisOptions, FeedbackTransition};

const DAYS: i64 = 60;
const PER_DAY: i64 = 170;
const USERS: i64 = 1500;
/// Units exposed to the experiment who never give feedback.
const SILENT_USERS: i64 = 1500;
const EXPERIMENT: &str = "pipe_sizing_comparison";
const NOUNS: [&str; 10] = [
    "north", "east", "south", "west", "harbour", "campus", "airport", "valley", "hill", "river",
];

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One generated item, with everything the test knows of it.
#[derive(Debug, Clone)]
struct Generated {
    id: i64,
    at_ms: i64,
    day: i64,
    user: String,
    kind: FeedbackType,
    category: String,
    rating: Option<u8>,
    text: String,
    /// The issue it reports (type, category, issue), for the clusters.
    issue: Option<(FeedbackType, String, u8)>,
    score: f64,
    label: &'static str,
    priority: &'static str,
    variant: Option<&'static str>,
    flags: BTreeMap<String, bool>,
    /// Filled after submission: the original it was merged into.
    root: i64,
}

fn user_name(u: i64) -> String {
    format!("user-{u:04}")
}

/// The variant of unit `u` in the experiment, by its parity (written into
/// the store's exposures before any feedback).
fn variant_of(u: i64) -> Option<&'static str> {
    if !(1000..USERS).contains(&u) {
        Some(if u % 2 == 0 {
            "intelligent"
        } else {
            "traditional"
        })
    } else {
        None
    }
}

fn survey_text(rating: u8) -> &'static str {
    match rating {
        5 => "Excellent tool, the diameters look right.",
        4 => "Good results on our network.",
        3 => "We used it for the district heating plan.",
        2 => "The results are often wrong.",
        _ => "Terrible, the sizing is unusable.",
    }
}

/// The texts of issue `issue` of `kind` in category `c`, in two phrasings
/// with the same content words.
fn issue_text(kind: FeedbackType, c: usize, issue: u8, phrasing: usize) -> String {
    let noun = NOUNS[c];
    let texts = match (kind, issue) {
        (FeedbackType::BugReport, 0) => [
            format!("The app crashes when importing {noun} data"),
            format!("App crashed importing the {noun} data!"),
        ],
        (FeedbackType::BugReport, _) => [
            format!("Wrong diameter on the last segment of {noun} branches"),
            format!("wrong diameters on the last segments of {noun} branches"),
        ],
        (FeedbackType::FeatureRequest, _) => [
            format!("Please add a {noun} export to IFC"),
            format!("please add the {noun} export to IFC"),
        ],
        (FeedbackType::PerformanceIssue, _) => [
            format!("Recalculation of {noun} networks is slow"),
            format!("the recalculation of {noun} networks is slow!"),
        ],
        _ => [
            format!("The {noun} settings are hard to find"),
            format!("the {noun} setting is hard to find"),
        ],
    };
    texts[phrasing].clone()
}

/// Generates the items in time order, with what the shipped rules make of
/// their texts.
fn generate(base: i64, triage: &Triage) -> Vec<Generated> {
    let categories: Vec<String> = triage
        .category_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mut items = Vec::new();
    for i in 0..DAYS * PER_DAY {
        let (day, j) = (i / PER_DAY, i % PER_DAY);
        let at_ms = base + day * DAY_MS + (j * 8 * 60_000) + (i % 7) * 1000;
        let kind = match j % 10 {
            0..=3 => FeedbackType::SatisfactionSurvey,
            4 | 5 => FeedbackType::GeneralFeedback,
            6 => FeedbackType::BugReport,
            7 => FeedbackType::FeatureRequest,
            8 => FeedbackType::PerformanceIssue,
            _ => FeedbackType::UsabilityIssue,
        };
        // Issues come from a smaller crowd, so that people report the same
        // issue more than once.
        let crowd = if kind.is_issue() { 24 } else { USERS };
        let u = (i * 7919) % crowd;
        let variant = variant_of(u);
        let c = ((j / 10) % 10) as usize;
        let (rating, text, issue) = if kind.is_issue() {
            let issue = if kind == FeedbackType::BugReport {
                ((j / 20) % 2) as u8
            } else {
                0
            };
            let rating =
                (kind == FeedbackType::BugReport && j % 3 == 0).then_some(1 + (j % 2) as u8);
            let text = issue_text(kind, c, issue, (i % 2) as usize);
            (rating, text, Some((kind, categories[c].clone(), issue)))
        } else {
            let bonus = i64::from(variant == Some("intelligent"));
            let r = (2 + day / 20 + bonus - i64::from(j % 4 == 0)).clamp(1, 5) as u8;
            (Some(r), survey_text(r).to_owned(), None)
        };
        let a = triage.assess(kind, &text, rating, Some(&categories[c]));
        items.push(Generated {
            id: i + 1,
            at_ms,
            day: at_ms.div_euclid(DAY_MS),
            user: user_name(u),
            kind,
            category: categories[c].clone(),
            rating,
            text,
            issue,
            score: a.sentiment.score,
            label: a.sentiment.label.as_str(),
            priority: a.priority.as_str(),
            variant,
            flags: BTreeMap::new(),
            root: i + 1,
        });
    }
    items
}

/// The originals the duplicate rule gives: a report joins the newest open
/// original of its issue submitted within the 30 days before it, else it
/// is an original itself.
fn assign_roots(items: &mut [Generated], window_ms: i64) {
    let mut newest: BTreeMap<(FeedbackType, String, u8), (i64, i64)> = BTreeMap::new();
    for item in items.iter_mut() {
        let Some(key) = item.issue.clone() else {
            continue;
        };
        match newest.get(&key) {
            Some(&(id, at)) if item.at_ms - at <= window_ms => item.root = id,
            _ => {
                newest.insert(key, (item.id, item.at_ms));
            }
        }
    }
}

/// Summaries of ratings and scores of `items`.
fn summaries<'a>(items: impl Iterator<Item = &'a Generated>) -> (Summary, Summary, u64, u64) {
    let (mut ratings, mut scores, mut satisfied, mut n) = (Vec::new(), Vec::new(), 0, 0);
    for g in items {
        n += 1;
        scores.push(g.score);
        if let Some(r) = g.rating {
            ratings.push(f64::from(r));
            satisfied += u64::from(r >= 4);
        }
    }
    (
        Summary::from_values(&ratings),
        Summary::from_values(&scores),
        satisfied,
        n,
    )
}

fn close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual} vs {expected}"
    );
}

fn close_opt(actual: Option<f64>, expected: f64, what: &str) {
    close(
        actual.unwrap_or_else(|| panic!("{what}: missing")),
        expected,
        what,
    );
}

/// Checks `analysis` of `[lo, hi)` against what the test knows of `items`.
fn check(analysis: &FeedbackAnalysis, items: &[Generated], lo: i64, hi: i64) {
    let in_range: Vec<&Generated> = items
        .iter()
        .filter(|g| g.at_ms >= lo && g.at_ms < hi)
        .collect();
    assert_eq!(analysis.total_items, in_range.len() as u64);
    let count_by = |f: &dyn Fn(&Generated) -> String| {
        let mut m: BTreeMap<String, u64> = BTreeMap::new();
        for g in &in_range {
            *m.entry(f(g)).or_default() += 1;
        }
        m
    };
    let nonzero = |m: &BTreeMap<String, u64>| -> BTreeMap<String, u64> {
        m.iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    assert_eq!(
        nonzero(&analysis.volume.by_type),
        count_by(&|g| g.kind.as_str().into())
    );
    assert_eq!(
        nonzero(&analysis.volume.by_category),
        count_by(&|g| g.category.clone())
    );
    assert_eq!(
        nonzero(&analysis.volume.by_priority),
        count_by(&|g| g.priority.into())
    );
    assert_eq!(
        nonzero(&analysis.volume.by_sentiment),
        count_by(&|g| g.label.into())
    );
    assert_eq!(
        analysis.volume.by_category.len(),
        10,
        "every category listed"
    );

    let (ratings, scores, satisfied, _) = summaries(in_range.iter().copied());
    let s = &analysis.satisfaction;
    assert_eq!((s.ratings, s.satisfied), (ratings.n, satisfied));
    close_opt(s.average_rating, ratings.mean(), "average rating");
    close_opt(s.csat, satisfied as f64 / ratings.n as f64, "csat");
    close_opt(s.sentiment_mean, scores.mean(), "sentiment mean");
    close_opt(s.rating_std_dev, ratings.std_dev().unwrap(), "rating sd");
    let negative = in_range.iter().filter(|g| g.label == "negative").count() as u64;
    assert_eq!(s.negative, negative);

    // The daily trend and its slope, by the textbook formula.
    let mut days: BTreeMap<i64, Vec<&Generated>> = BTreeMap::new();
    for g in &in_range {
        days.entry(g.day).or_default().push(g);
    }
    assert_eq!(analysis.trend.period, Period::Day);
    assert_eq!(analysis.trend.points.len(), days.len());
    let mut points = Vec::new();
    for (point, (day, list)) in analysis.trend.points.iter().zip(&days) {
        let (r, _, _, n) = summaries(list.iter().copied());
        assert_eq!(
            (point.start_ms, point.items, point.ratings),
            (day * DAY_MS, n, r.n)
        );
        close_opt(point.average_rating, r.mean(), "daily rating");
        points.push(((day - days.keys().next().unwrap()) as f64, r.mean()));
    }
    if points.len() < 2 {
        assert_eq!(analysis.trend.rating_slope, None, "no line through one day");
    } else {
        let n = points.len() as f64;
        let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
        let my = points.iter().map(|p| p.1).sum::<f64>() / n;
        let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let slope = analysis.trend.rating_slope.unwrap();
        close(slope.per_period, sxy / sxx, "slope");
        assert_eq!(slope.periods, points.len());
    }

    // Variants: the stored exposures, each against the control.
    let arm = |v: &'static str| {
        in_range
            .iter()
            .copied()
            .filter(move |g| g.variant == Some(v))
    };
    let experiment = analysis
        .experiments
        .iter()
        .find(|e| e.name == EXPERIMENT)
        .unwrap();
    assert_eq!(experiment.reference, "traditional");
    let (control_r, control_s, _, control_n) = summaries(arm("traditional"));
    let (treat_r, treat_s, treat_sat, treat_n) = summaries(arm("intelligent"));
    let arms: BTreeMap<&str, (u64, u64)> = experiment
        .arms
        .iter()
        .map(|a| (a.arm.as_str(), (a.items, a.ratings)))
        .collect();
    assert_eq!(arms["traditional"], (control_n, control_r.n));
    assert_eq!(arms["intelligent"], (treat_n, treat_r.n));
    let intelligent = experiment
        .arms
        .iter()
        .find(|a| a.arm == "intelligent")
        .unwrap();
    close_opt(
        intelligent.csat,
        treat_sat as f64 / treat_r.n as f64,
        "variant csat",
    );
    let test = &experiment.tests[0];
    assert_eq!(
        (test.arm.as_str(), test.versus.as_str()),
        ("intelligent", "traditional")
    );
    let expected = welch(&control_r, &treat_r, 0.05).unwrap();
    close_opt(
        test.rating.difference,
        expected.difference,
        "rating difference",
    );
    close_opt(test.rating.p_value, expected.p_value, "rating p");
    close_opt(test.rating.ci_lower, expected.ci.lower, "rating ci");
    assert_eq!(test.rating.significant, expected.p_value < 0.05);
    let expected = welch(&control_s, &treat_s, 0.05).unwrap();
    close_opt(
        test.sentiment.difference,
        expected.difference,
        "sentiment difference",
    );
    close_opt(test.sentiment.p_value, expected.p_value, "sentiment p");

    // Flag states, as a flag check for the item's user at its time says.
    for comparison in &analysis.flags {
        for a in &comparison.arms {
            let on = a.arm == "on";
            let list = in_range
                .iter()
                .copied()
                .filter(|g| g.flags[&comparison.name] == on);
            let (r, sc, _, n) = summaries(list);
            assert_eq!(
                (a.items, a.ratings),
                (n, r.n),
                "{} {}",
                comparison.name,
                a.arm
            );
            close_opt(a.sentiment_mean, sc.mean(), "flag sentiment");
        }
    }
    let flagged: BTreeSet<&str> = analysis.flags.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(flagged.len(), items[0].flags.len(), "every deployed flag");

    // Top issues: people, not copies.
    let mut clusters: BTreeMap<i64, (u64, BTreeSet<&str>)> = BTreeMap::new();
    for g in in_range
        .iter()
        .filter(|g| g.kind.is_issue() || g.label == "negative")
    {
        let c = clusters.entry(g.root).or_default();
        c.0 += 1;
        c.1.insert(&g.user);
    }
    let mut ranked: Vec<(i64, u64, u64)> = clusters
        .iter()
        .map(|(root, (reports, people))| (*root, *reports, people.len() as u64))
        .collect();
    ranked.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.cmp(&a.1)).then(a.0.cmp(&b.0)));
    ranked.truncate(10);
    let got: Vec<(i64, u64, u64)> = analysis
        .top_issues
        .iter()
        .map(|t| (t.id, t.reports, t.people))
        .collect();
    assert_eq!(got, ranked);

    // The collection rate: users who gave feedback of the users exposed
    // (the units with a stored exposure, and whoever gave feedback).
    let users: BTreeSet<&str> = in_range.iter().map(|g| g.user.as_str()).collect();
    let stored = (0..USERS + SILENT_USERS)
        .filter(|u| variant_of(*u).is_some())
        .count() as u64;
    let unexposed = in_range
        .iter()
        .filter(|g| g.variant.is_none())
        .map(|g| g.user.as_str())
        .collect::<BTreeSet<_>>()
        .len() as u64;
    let exposed = stored + unexposed;
    let collection = &analysis.success_metrics[0];
    assert_eq!(collection.name, "collection_rate");
    assert_eq!(
        (collection.numerator, collection.denominator),
        (users.len() as u64, exposed)
    );
}

#[test]
fn analysis_of_10200_generated_items_gives_the_known_answers() {
    let dir = std::env::temp_dir().join(format!("cha-fb-analysis-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let scratch = Scratch(dir);
    let db = scratch.0.join("cha.db");
    let cha = Cha::open(&db).unwrap();
    cha.deploy_all(Path::new(env!("CARGO_MANIFEST_DIR")).join("configs"), "ci")
        .unwrap();
    let base = parse_rfc3339_ms("2025-09-01T00:00:00Z").unwrap();
    // Units exposed to the experiment the day before the first feedback.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let mut insert = conn
            .prepare("INSERT INTO exposures (experiment, unit, variant, first_seen_ms) VALUES (?1, ?2, ?3, ?4)")
            .unwrap();
        for u in (0..USERS + SILENT_USERS).filter(|u| variant_of(*u).is_some()) {
            insert
                .execute(rusqlite::params![
                    EXPERIMENT,
                    user_name(u),
                    variant_of(u).unwrap(),
                    base - DAY_MS
                ])
                .unwrap();
        }
    }
    let settings = cha.feedback_settings();
    let triage = Triage::new(settings.clone());
    // The generator's texts mean what it says.
    assert_eq!(
        triage.sentiment().analyze(survey_text(5)).label.as_str(),
        "positive"
    );
    assert_eq!(
        triage.sentiment().analyze(survey_text(3)).label.as_str(),
        "neutral"
    );
    assert_eq!(
        triage.sentiment().analyze(survey_text(1)).label.as_str(),
        "negative"
    );
    let mut items = generate(base, &triage);
    assert!(items.len() >= 10_000);

    for g in &items {
        let mut s = Submission::new(g.kind, &g.user, &g.text);
        s.rating = g.rating;
        s.category = Some(g.category.clone());
        s.submitted_at_ms = Some(g.at_ms);
        let stored = cha.submit_feedback(&s).unwrap();
        assert_eq!(stored.id, g.id);
    }
    assign_roots(
        &mut items,
        i64::from(settings.duplicates.window_days) * DAY_MS,
    );
    let flag_names: Vec<String> = cha
        .flags()
        .unwrap()
        .into_iter()
        .map(|f| f.definition.name)
        .collect();
    for g in &mut items {
        let stored = cha.feedback(g.id).unwrap();
        assert_eq!(
            stored.duplicate_of.unwrap_or(g.id),
            g.root,
            "#{}: {}",
            g.id,
            g.text
        );
        let ctx = Context {
            user_id: Some(&g.user),
            current_time_ms: Some(g.at_ms),
            ..Context::default()
        };
        for flag in &flag_names {
            g.flags
                .insert(flag.clone(), cha.evaluate_flag(flag, &ctx).enabled);
        }
    }

    // The workflow of the originals (not the surveys): a quarter
    // acknowledged within 2 hours and resolved within 5 days, a quarter
    // acknowledged after 30 hours and resolved after 40 days, a quarter
    // acknowledged within 10 hours only, a quarter untouched.
    let hour = 3_600_000;
    let (mut originals, mut ack_in_time, mut resolved_in_time) = (0u64, 0u64, 0u64);
    for g in items
        .iter()
        .filter(|g| g.root == g.id && g.kind != FeedbackType::SatisfactionSurvey)
    {
        originals += 1;
        let plan: &[(Status, i64)] = match g.id % 4 {
            0 => &[
                (Status::Acknowledged, 2 * hour),
                (Status::InProgress, 3 * hour),
                (Status::Resolved, 5 * 24 * hour),
            ],
            1 => &[
                (Status::Acknowledged, 30 * hour),
                (Status::InProgress, 31 * hour),
                (Status::Resolved, 40 * 24 * hour),
            ],
            2 => &[(Status::Acknowledged, 10 * hour)],
            _ => &[],
        };
        ack_in_time += u64::from(g.id % 4 == 0 || g.id % 4 == 2);
        resolved_in_time += u64::from(g.id % 4 == 0);
        for (status, after) in plan {
            cha.transition_feedback(
                g.id,
                &FeedbackTransition {
                    status: *status,
                    actor: "triager",
                    note: None,
                    at_ms: Some(g.at_ms + after),
                },
            )
            .unwrap();
        }
    }

    // The whole set.
    let all = cha.analyze_feedback(0, 0).unwrap();
    check(&all, &items, i64::MIN, i64::MAX);
    assert!(
        all.top_issues.iter().all(|t| t.reports > t.people),
        "people report an issue more than once; the ranking counts them once"
    );
    assert!(
        all.experiments[0].tests[0].rating.significant,
        "the intelligent variant rates one point higher"
    );
    let metrics = &all.success_metrics;
    assert_eq!(
        (metrics[1].numerator, metrics[1].denominator),
        (ack_in_time, originals)
    );
    assert_eq!(
        (metrics[2].numerator, metrics[2].denominator),
        (resolved_in_time, originals)
    );
    assert_eq!(metrics[1].met, Some(false));
    assert_eq!(metrics[2].met, Some(false));
    let rate = metrics[0].numerator as f64 / metrics[0].denominator as f64;
    close_opt(metrics[0].value, rate, "collection rate");
    assert!(rate > 0.1);
    assert_eq!(metrics[0].met, Some(true));
    // The recommendations name their numbers.
    let rec = all
        .recommendations
        .iter()
        .find(|r| r.area == "experiment")
        .expect("a recommendation about the variant");
    close(
        rec.numbers["difference"],
        all.experiments[0].tests[0].rating.difference.unwrap(),
        "rec",
    );
    assert!(
        rec.message
            .starts_with("Users of variant intelligent of pipe_sizing_comparison rate it "),
        "{}",
        rec.message
    );
    let rec = all
        .recommendations
        .iter()
        .find(|r| r.area == "success_metric")
        .unwrap();
    assert!(
        rec.message.contains(&format!(
            "{ack_in_time} of {originals} were acknowledged within 24 hours"
        )),
        "{}",
        rec.message
    );
    assert_eq!(all.trend.direction, "improving");

    // A range cutting both its first and last day in two: partial days
    // are read from the items, whole days from the summaries.
    let (lo, hi) = (
        base + 10 * DAY_MS + DAY_MS / 2,
        base + 20 * DAY_MS + DAY_MS / 4,
    );
    let part = cha.analyze_feedback(lo, hi).unwrap();
    check(&part, &items, lo, hi);
    // Within one day only.
    let (lo, hi) = (base + 33 * DAY_MS + hour, base + 33 * DAY_MS + 9 * hour);
    check(&cha.analyze_feedback(lo, hi).unwrap(), &items, lo, hi);

    // Weekly periods, and the exposed users given.
    let options = FeedbackAnalysisOptions {
        period: Some(Period::Week),
        users_exposed: Some(20_000),
        top_issues: Some(3),
    };
    let weekly = cha.analyze_feedback_with(0, 0, &options).unwrap();
    assert_eq!(weekly.trend.period, Period::Week);
    // 2025-09-01 is a Monday: 60 days make 8 weeks and 4 days.
    assert_eq!(weekly.trend.points.len(), 9);
    assert_eq!(weekly.trend.points[0].start_ms, base);
    assert_eq!(weekly.trend.points[0].items, (7 * PER_DAY) as u64);
    assert_eq!(weekly.top_issues.len(), 3);
    assert_eq!(weekly.success_metrics[0].denominator, 20_000);
    assert_eq!(weekly.success_metrics[0].met, Some(false));
}
