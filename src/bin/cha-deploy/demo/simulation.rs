//! Weeks of a rollout of intelligent pipe sizing, simulated on the library
//! with a simulated clock: every record is stored at its simulated time.
//!
//! The story, week by week (6 weeks by default):
//!
//! - Monday of week 1, 07:00: `ci` deploys the config files; at 07:30 the
//!   release manager turns `intelligent_pipe_sizing` into a weekly schedule
//!   (25%, 50%, 75%, 100%) guarded by the A/B test `pipe_sizing_comparison`
//!   and the alert rule `pipe_sizing_time_ms`.
//! - Every working day, each engineer sizes a district of the sample
//!   network now and then. The flag decides who is in the rollout; those in
//!   it are assigned a variant by the A/B test (traditional: DN100
//!   everywhere; intelligent: flow-based within 0.1–2.0 m/s, both from the
//!   variants' configuration). Each sizing records its cost efficiency,
//!   pressure drop, tool time and velocity violations as observations of
//!   the test, and its time and solver iterations as monitoring metrics;
//!   some engineers write feedback about what they saw.
//! - Tuesday of the third week, 09:00: release 2.5.0 of the intelligent
//!   sizing evaluates every pipe size with Colebrook–White to 1e-12 instead
//!   of picking the size directly; its sizings take many times longer. The
//!   timing alert fires; the hourly guardrail check finds the test's
//!   `sizing_time_ms` guardrail harmed and pauses the rollout where it is.
//!   At 13:00 release 2.5.1 brings the direct search back; the alert
//!   resolves. On the next Monday the release manager resumes the rollout.
//! - At the end the test is analysed and the deployment report written.
//!
//! Nothing is scripted beyond these events: whether and when the alert and
//! the guardrail fire, and every number of the summary and the report,
//! come from the simulated sizings.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use cha_deploy::experiments::AnalysisOptions;
use cha_deploy::feedback::{FeedbackType, Submission};
use cha_deploy::flags::Context;
use cha_deploy::monitoring::MetricKind;
use cha_deploy::{AlertQuery, Cha, DeployOptions, Error};

use super::network::Network;
use super::progress::Progress;
use super::rng::Rng;
use super::sizing::{self, Method, Search, VelocityLimits, WATER_80C};

pub const FLAG: &str = "intelligent_pipe_sizing";
pub const TEST: &str = "pipe_sizing_comparison";
/// Monday 2026-11-02 00:00 UTC: the week the shipped A/B test starts.
pub const START_MS: i64 = 1_793_577_600_000;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

/// The rollout's weekly steps, percent.
const STEPS: [f64; 4] = [25.0, 50.0, 75.0, 100.0];
/// How often the alert rules are evaluated during working hours.
const ALERT_EVERY: i64 = 10 * MINUTE;
/// How often the guardrails are checked during working hours.
const GUARD_EVERY: i64 = HOUR;
/// Working hours: sizings happen from 08:00 for this long.
const DAY_STARTS: i64 = 8 * HOUR;
const WORKING: i64 = 9 * HOUR + 30 * MINUTE;
/// The faulty release: from Tuesday 09:00 to 13:00.
const DEFECT_FROM: i64 = DAY + 9 * HOUR;
const DEFECT_UNTIL: i64 = DAY + 13 * HOUR;
/// A sizing tool's time per unit of work, ms: loading, drawing and storing
/// a pipe; a friction factor by the explicit formula; an iteration of
/// Colebrook–White; a comparison of the search.
const MS_PER_PIPE: f64 = 4.0;
const MS_PER_EXPLICIT: f64 = 0.2;
const MS_PER_ITERATION: f64 = 0.6;
const MS_PER_COMPARISON: f64 = 0.02;
/// The spread of the tool's time (log-normal σ): machines and load differ.
const TIME_SPREAD: f64 = 0.18;
/// The chance that a sizing leads its engineer to write feedback.
const FEEDBACK_CHANCE: f64 = 0.025;
/// The share of the week's engineers who answer the Friday survey.
const SURVEY_CHANCE: f64 = 0.06;

const DEPLOYER: &str = "ci";
const RELEASE_MANAGER: &str = "release-manager";

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub seed: u64,
    pub weeks: u32,
    pub users: u32,
}

/// One engineer.
struct Engineer {
    id: String,
    /// Sizings per week, on average.
    rate: f64,
    /// The district they mostly work on.
    home: usize,
}

/// What an engineer experienced in a week, for the Friday survey.
#[derive(Default, Clone, Copy)]
struct Week {
    sizings: u32,
    slow: u32,
    intelligent: bool,
    traditional_in_test: bool,
}

/// The arms a sizing can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// The flag is off for the engineer: the old sizing, outside the test.
    NotInRollout,
    Traditional,
    Intelligent,
}

/// Totals of one arm.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ArmTotals {
    pub sizings: u64,
    pub engineers: u64,
    pub mean_time_ms: f64,
    pub mean_cost_efficiency_kw_per_keur: f64,
    pub share_with_velocity_violations: f64,
    #[serde(skip)]
    time_sum: f64,
    #[serde(skip)]
    efficiency_sum: f64,
    #[serde(skip)]
    violations: u64,
}

/// A rollout event the summary names.
#[derive(Debug, Clone, Serialize)]
pub struct Happening {
    pub at_ms: i64,
    pub what: String,
}

/// The whole sample network sized both ways.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkComparison {
    pub consumers: usize,
    /// Consumers by kind: small, houses, apartment blocks, commercial, public.
    pub by_kind: [usize; 5],
    pub districts: usize,
    pub connected_load_mw: f64,
    pub trench_km: f64,
    pub pipes: usize,
    pub fixed: SizingFigures,
    pub flow_based: SizingFigures,
}

#[derive(Debug, Clone, Serialize)]
pub struct SizingFigures {
    pub method: String,
    /// The size of the pipe from the plant, and its velocity.
    pub plant_pipe_dn: u16,
    pub plant_pipe_velocity_m_s: f64,
    pub cost_meur: f64,
    pub outside_velocity_limits: usize,
    pub max_velocity_m_s: f64,
    pub mean_pressure_drop_pa_per_m: f64,
    pub max_pressure_drop_pa_per_m: f64,
}

/// The satisfaction of one variant's engineers.
#[derive(Debug, Clone, Serialize)]
pub struct VariantCsat {
    pub variant: String,
    pub ratings: u64,
    pub csat: Option<f64>,
}

/// What the simulation did and found: the demo's summary (its `--json`).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub seed: u64,
    pub weeks: u32,
    pub users: u32,
    pub start_ms: i64,
    pub end_ms: i64,
    pub network: NetworkComparison,
    pub sizings: u64,
    pub arms: BTreeMap<Arm, ArmTotals>,
    pub faulty_release_sizings: u64,
    pub feedback_items: u64,
    /// CSAT (ratings of 4 or 5) per variant of the test, with the ratings.
    pub csat: Vec<VariantCsat>,
    pub rollout_percentage_end: f64,
    pub rollout_held_end: bool,
    pub happenings: Vec<Happening>,
    pub alerts: Vec<cha_deploy::monitoring::alerts::AlertRecord>,
    pub analysis: cha_deploy::AnalysisReport,
}

pub struct Simulation<'a> {
    cha: &'a Cha,
    settings: Settings,
    network: Network,
    traditional: &'static sizing::PipeSize,
    limits: VelocityLimits,
    engineers: Vec<Engineer>,
    weeks: Vec<Week>,
    arms: BTreeMap<Arm, ArmTotals>,
    engineers_in: BTreeMap<Arm, std::collections::BTreeSet<usize>>,
    happenings: Vec<Happening>,
    sizings: u64,
    faulty: u64,
    feedback: u64,
    next_alert_tick: i64,
    next_guard_tick: i64,
    resume_at: Option<i64>,
    /// Releases of the sizing tool, announced when their time comes.
    releases: Vec<(i64, String)>,
    /// Whether the release manager has said the rollout stays paused.
    kept_paused: bool,
}

impl<'a> Simulation<'a> {
    pub fn new(cha: &'a Cha, settings: Settings) -> Simulation<'a> {
        let network = Network::generate(settings.seed);
        let mut rng = Rng::fork(settings.seed, &[0x0065_6e67]);
        let engineers = (0..settings.users)
            .map(|i| Engineer {
                id: format!("engineer-{:04}", i + 1),
                rate: rng.uniform(1.5, 4.5),
                home: rng.below(network.districts.len()),
            })
            .collect();
        Simulation {
            cha,
            settings,
            network,
            traditional: sizing::dn(100).expect("DN100 is in the series"),
            limits: VelocityLimits {
                min_m_s: 0.1,
                max_m_s: 2.0,
            },
            engineers,
            weeks: Vec::new(),
            arms: BTreeMap::new(),
            engineers_in: BTreeMap::new(),
            happenings: Vec::new(),
            sizings: 0,
            faulty: 0,
            feedback: 0,
            next_alert_tick: 0,
            next_guard_tick: 0,
            resume_at: None,
            releases: Vec::new(),
            kept_paused: false,
        }
    }

    /// Runs the rollout: deploys `configs`, simulates the weeks, analyses.
    pub fn run(
        mut self,
        configs: &std::path::Path,
        progress: &mut Progress,
    ) -> Result<Outcome, Error> {
        let weeks = self.settings.weeks;
        let network = self.compare_whole_network();
        progress.line(&format!(
            "network: {} consumers in {} districts, {:.1} MW, {:.1} km of trench; \
             DN100 everywhere {:.2} MEUR with {} of {} pipes outside 0.1–2.0 m/s, \
             flow-based {:.2} MEUR with {}",
            network.consumers,
            network.districts,
            network.connected_load_mw,
            network.trench_km,
            network.fixed.cost_meur,
            network.fixed.outside_velocity_limits,
            network.pipes,
            network.flow_based.cost_meur,
            network.flow_based.outside_velocity_limits
        ));

        // Week 1, Monday: deploy the files, then plan the rollout.
        self.at(START_MS + 7 * HOUR);
        let options = DeployOptions {
            actor: Some(DEPLOYER.into()),
            ..DeployOptions::default()
        };
        let deployed = self.cha.deploy(configs, &options)?;
        self.happen(
            START_MS + 7 * HOUR,
            format!(
                "{DEPLOYER} deployed {} (deployment {})",
                configs.display(),
                deployed.deployment_id
            ),
            progress,
        );
        self.read_variants()?;
        self.at(START_MS + 7 * HOUR + 30 * MINUTE);
        let schedule: Vec<serde_json::Value> = (0..weeks.min(STEPS.len() as u32))
            .map(|w| {
                // The first step at once, the others on Monday mornings.
                let at = match w {
                    0 => START_MS + 7 * HOUR + 30 * MINUTE,
                    w => START_MS + i64::from(w) * WEEK + DAY_STARTS,
                };
                json!({"at": rfc3339(at), "percentage": STEPS[w as usize]})
            })
            .collect();
        self.cha.update_flag(
            FLAG,
            &json!({
                "type": "time_based",
                "start_time": rfc3339(START_MS),
                "schedule": schedule,
                "guardrails": {
                    "alerts": ["pipe_sizing_time_ms"],
                    "min_severity": "critical",
                    "experiments": [TEST],
                    "on_trigger": "pause",
                },
            }),
            RELEASE_MANAGER,
        )?;
        self.happen(
            START_MS + 7 * HOUR + 30 * MINUTE,
            format!(
                "{RELEASE_MANAGER} scheduled {FLAG}: {} weekly, guarded by {TEST} and pipe_sizing_time_ms",
                STEPS[..weeks.min(STEPS.len() as u32) as usize]
                    .iter()
                    .map(|p| format!("{p}%"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            progress,
        );

        let defect_week = weeks.min(3) - 1;
        let defect = (
            START_MS + i64::from(defect_week) * WEEK + DEFECT_FROM,
            START_MS + i64::from(defect_week) * WEEK + DEFECT_UNTIL,
        );
        self.releases = vec![
            (
                defect.0,
                "release 2.5.0 of the intelligent sizing: every pipe size evaluated with Colebrook–White to 1e-12".into(),
            ),
            (
                defect.1,
                "release 2.5.1: the size found from the flow directly again (bisection, Swamee–Jain)".into(),
            ),
        ];
        self.resume_at = (defect_week + 1 < weeks)
            .then(|| START_MS + i64::from(defect_week + 1) * WEEK + DAY_STARTS + 30 * MINUTE);
        let days = i64::from(weeks) * 7;
        for day in 0..days {
            if day % 7 == 0 {
                self.weeks = vec![Week::default(); self.engineers.len()];
                progress.line(&format!(
                    "week {} of {weeks} (from {}): rollout at {}%, {} sizings so far",
                    day / 7 + 1,
                    &rfc3339(START_MS + day * DAY)[..10],
                    super::num(self.rollout_percentage(START_MS + day * DAY + DAY_STARTS)),
                    self.sizings
                ));
            }
            progress.set(
                day as u64,
                format!(
                    "{} · {} sizings",
                    &rfc3339(START_MS + day * DAY)[..10],
                    self.sizings
                ),
            );
            if day % 7 >= 5 {
                continue; // the weekend
            }
            self.working_day(START_MS + day * DAY, defect, progress)?;
            if day % 7 == 4 {
                self.friday_survey(START_MS + day * DAY + 16 * HOUR)?;
            }
        }
        progress.set(days as u64, "analysing");
        let end = START_MS + (days - 3) * DAY + 19 * HOUR;
        self.at(end);
        self.cha.flush()?;
        let analysis = self
            .cha
            .analyze_experiment(TEST, AnalysisOptions::default())?;
        let csat = self
            .cha
            .analyze_feedback(0, 0)?
            .experiments
            .into_iter()
            .filter(|e| e.name == TEST)
            .flat_map(|e| e.arms)
            .map(|a| VariantCsat {
                variant: a.arm,
                ratings: a.ratings,
                csat: a.csat,
            })
            .collect();
        let flag = self.cha.flag(FLAG)?.definition;
        let alerts = {
            let mut all = self.cha.alerts(AlertQuery {
                limit: 1000,
                ..AlertQuery::default()
            })?;
            all.reverse();
            all
        };
        let mut arms = self.arms.clone();
        for (arm, totals) in arms.iter_mut() {
            let n = totals.sizings.max(1) as f64;
            totals.mean_time_ms = totals.time_sum / n;
            totals.mean_cost_efficiency_kw_per_keur = totals.efficiency_sum / n;
            totals.share_with_velocity_violations = totals.violations as f64 / n;
            totals.engineers = self.engineers_in.get(arm).map_or(0, |s| s.len() as u64);
        }
        Ok(Outcome {
            seed: self.settings.seed,
            weeks,
            users: self.settings.users,
            start_ms: START_MS,
            end_ms: end,
            network,
            sizings: self.sizings,
            arms,
            faulty_release_sizings: self.faulty,
            feedback_items: self.feedback,
            csat,
            rollout_percentage_end: flag.rollout_percentage(end).unwrap_or(0.0),
            rollout_held_end: flag.hold.is_some(),
            happenings: self.happenings,
            alerts,
            analysis,
        })
    }

    /// Sets the library's clock.
    fn at(&self, ms: i64) {
        cha_deploy::clock::set_simulated_now(ms);
    }

    fn happen(&mut self, at_ms: i64, what: String, progress: &mut Progress) {
        progress.line(&format!("{}  {what}", super::when(at_ms)));
        self.happenings.push(Happening { at_ms, what });
    }

    /// The sizing parameters from the test's variants: the traditional
    /// diameter, the intelligent velocity limits.
    fn read_variants(&mut self) -> Result<(), Error> {
        let def = self.cha.experiment(TEST)?.definition;
        for v in &def.variants {
            let get = |k: &str| v.configuration.get(k).and_then(|x| x.as_f64());
            if let Some(mm) = get("default_diameter_mm") {
                self.traditional = sizing::DN_SERIES
                    .iter()
                    .find(|s| f64::from(s.dn) >= mm)
                    .unwrap_or(self.traditional);
            }
            if let (Some(min), Some(max)) = (get("min_velocity_ms"), get("max_velocity_ms")) {
                self.limits = VelocityLimits {
                    min_m_s: min,
                    max_m_s: max,
                };
            }
        }
        Ok(())
    }

    fn rollout_percentage(&self, at: i64) -> f64 {
        self.cha
            .flag(FLAG)
            .ok()
            .and_then(|r| r.definition.rollout_percentage(at))
            .unwrap_or(0.0)
    }

    /// The whole network sized both ways, for the summary.
    fn compare_whole_network(&self) -> NetworkComparison {
        let loads = self.network.loads();
        let segments = self.network.segments(&self.network.all_pipes(), &loads);
        let plant = self.network.plant_pipe();
        let figures = |method: Method, name: &str| {
            let s = sizing::size_network(&segments, method, self.limits, &WATER_80C);
            SizingFigures {
                method: name.into(),
                plant_pipe_dn: s.pipes[plant].size.dn,
                plant_pipe_velocity_m_s: s.pipes[plant].hydraulics.velocity_m_s,
                cost_meur: s.cost_eur / 1e6,
                outside_velocity_limits: s.outside_limits,
                max_velocity_m_s: s.max_velocity_m_s,
                mean_pressure_drop_pa_per_m: s.mean_pa_per_m,
                max_pressure_drop_pa_per_m: s.max_pa_per_m,
            }
        };
        use super::network::ConsumerKind::*;
        NetworkComparison {
            consumers: self.network.consumers.len(),
            by_kind: [Small, House, Apartments, Commercial, Public].map(|k| self.network.count(k)),
            districts: self.network.districts.len(),
            connected_load_mw: self.network.total_load_kw() / 1000.0,
            trench_km: self.network.length_m() / 1000.0,
            pipes: segments.len(),
            fixed: figures(Method::Fixed(self.traditional), "fixed DN100"),
            flow_based: figures(
                Method::FlowBased {
                    max_velocity_m_s: self.limits.max_m_s,
                    search: Search::Direct,
                },
                "flow-based",
            ),
        }
    }

    /// One working day starting at `day_ms` (midnight).
    fn working_day(
        &mut self,
        day_ms: i64,
        defect: (i64, i64),
        progress: &mut Progress,
    ) -> Result<(), Error> {
        let mut rng = Rng::fork(self.settings.seed, &[0x0064_6179, day_ms as u64]);
        let mut events: Vec<(i64, usize)> = Vec::new();
        for (e, engineer) in self.engineers.iter().enumerate() {
            let expected = engineer.rate / 5.0;
            let n = expected.floor() as usize + usize::from(rng.chance(expected.fract()));
            for _ in 0..n {
                let at =
                    day_ms + DAY_STARTS + (rng.uniform(0.0, WORKING as f64) as i64 / 1000) * 1000;
                events.push((at, e));
            }
        }
        events.sort_unstable();
        // Rules look back up to 30 minutes: evaluated from half an hour
        // into the working day to its end, so that the quiet night is not
        // taken for a stopped service.
        self.next_alert_tick = day_ms + DAY_STARTS + 30 * MINUTE;
        self.next_guard_tick = day_ms + DAY_STARTS + HOUR;
        for (at, e) in events {
            self.ticks_until(at, progress)?;
            self.size(e, at, defect)?;
        }
        self.ticks_until(day_ms + DAY_STARTS + WORKING, progress)?;
        Ok(())
    }

    /// The evaluations, guardrail checks and planned actions due up to `t`.
    fn ticks_until(&mut self, t: i64, progress: &mut Progress) -> Result<(), Error> {
        while self.next_alert_tick.min(self.next_guard_tick) <= t {
            let tick = self.next_alert_tick.min(self.next_guard_tick);
            self.at(tick);
            while self.releases.first().is_some_and(|(when, _)| *when <= tick) {
                let (when, what) = self.releases.remove(0);
                self.happen(when, what, progress);
            }
            if let Some(resume) = self.resume_at
                && tick >= resume
            {
                self.morning_review(tick, progress)?;
            }
            if tick == self.next_alert_tick {
                for event in self.cha.evaluate_alerts_at(tick)? {
                    if matches!(event.kind.as_str(), "firing" | "resolved") {
                        let what = format!(
                            "alert{} {} {}{}",
                            event.alert.map_or(String::new(), |id| format!(" #{id}")),
                            event.rule,
                            event.kind,
                            event
                                .severity
                                .map_or(String::new(), |s| format!(" ({})", s.as_str()))
                        );
                        self.happen(tick, what, progress);
                    }
                }
                self.next_alert_tick += ALERT_EVERY;
            }
            if tick == self.next_guard_tick {
                for stop in self.cha.check_guardrails_at(tick)? {
                    self.happen(
                        tick,
                        format!(
                            "guardrail {} the rollout of {} at {}%: {}",
                            match stop.action {
                                cha_deploy::flags::GuardAction::Pause => "paused",
                                cha_deploy::flags::GuardAction::Rollback => "rolled back",
                            },
                            stop.flag,
                            super::num(stop.from_percentage),
                            stop.reasons.join("; ")
                        ),
                        progress,
                    );
                }
                self.next_guard_tick += GUARD_EVERY;
            }
        }
        Ok(())
    }

    /// The release manager's morning look, from the Monday after the
    /// faulty release: a held rollout is resumed once the A/B test no
    /// longer shows a guardrail harmed; until then it stays paused, and
    /// the look is repeated the next working morning.
    fn morning_review(&mut self, tick: i64, progress: &mut Progress) -> Result<(), Error> {
        if self.cha.flag(FLAG)?.definition.hold.is_none() {
            self.resume_at = None;
            return Ok(());
        }
        let analysis = self
            .cha
            .analyze_experiment(TEST, AnalysisOptions::default())?;
        let harmed: Vec<String> = analysis
            .metrics
            .iter()
            .flat_map(|m| {
                m.comparisons
                    .iter()
                    .filter(|c| c.harmed == Some(true))
                    .map(move |c| format!("{} in {}", m.name, c.variant))
            })
            .collect();
        if harmed.is_empty() {
            self.resume_at = None;
            self.cha.resume_rollout(FLAG, RELEASE_MANAGER)?;
            let now = self.rollout_percentage(tick);
            self.happen(
                tick,
                format!(
                    "{RELEASE_MANAGER} resumed the rollout of {FLAG} ({TEST} shows no guardrail harmed): {}%",
                    super::num(now)
                ),
                progress,
            );
        } else {
            if !self.kept_paused {
                self.kept_paused = true;
                self.happen(
                    tick,
                    format!(
                        "{RELEASE_MANAGER} keeps {FLAG} paused: {} still significantly harmed; looking again each morning",
                        harmed.join(", ")
                    ),
                    progress,
                );
            }
            self.resume_at = Some(tick + DAY);
        }
        Ok(())
    }

    /// Engineer `e` sizes a district at `at`.
    fn size(&mut self, e: usize, at: i64, defect: (i64, i64)) -> Result<(), Error> {
        self.at(at);
        let id = self.engineers[e].id.clone();
        let in_rollout = self.cha.is_enabled(FLAG, &Context::user(&id))?;
        let variant = if in_rollout {
            self.cha.assign(TEST, &id)?.variant.map(|v| v.name)
        } else {
            None
        };
        let arm = match variant.as_deref() {
            Some("intelligent") => Arm::Intelligent,
            Some(_) => Arm::Traditional,
            None => Arm::NotInRollout,
        };
        let faulty = arm == Arm::Intelligent && (defect.0..defect.1).contains(&at);

        // The project: a district, with the engineer's own load estimates.
        let mut rng = Rng::fork(self.settings.seed, &[0x7369_7a65, e as u64, at as u64]);
        let district = if rng.chance(0.6) {
            self.engineers[e].home
        } else {
            rng.below(self.network.districts.len())
        };
        let mut loads = self.network.loads();
        for &c in &self.network.districts[district].consumers {
            loads[c] *= (1.0 + 0.08 * rng.normal()).clamp(0.7, 1.3);
        }
        let pipes = &self.network.districts[district].pipes;
        let segments = self.network.segments(pipes, &loads);
        let method = match arm {
            Arm::Intelligent => Method::FlowBased {
                max_velocity_m_s: self.limits.max_m_s,
                search: if faulty {
                    Search::FullScan
                } else {
                    Search::Direct
                },
            },
            _ => Method::Fixed(self.traditional),
        };
        let s = sizing::size_network(&segments, method, self.limits, &WATER_80C);
        let w = s.work;
        let explicit = w.explicit_evaluations as f64;
        let time_ms = (MS_PER_PIPE * segments.len() as f64
            + MS_PER_EXPLICIT * explicit
            + MS_PER_ITERATION * w.colebrook_iterations as f64
            + MS_PER_COMPARISON * w.comparisons as f64)
            * (TIME_SPREAD * rng.normal()).exp();
        let load_kw: f64 = self.network.districts[district]
            .consumers
            .iter()
            .map(|&c| loads[c])
            .sum();
        let efficiency = load_kw / (s.cost_eur / 1000.0);
        let iterations_per_pipe = w.colebrook_iterations as f64 / segments.len().max(1) as f64;

        self.cha.record_metric_at(
            MetricKind::Timer,
            "pipe_sizing_time_ms",
            time_ms / 1000.0,
            None,
            at,
        )?;
        self.cha
            .record_metric_at(MetricKind::Counter, "pipe_sizing_requests", 1.0, None, at)?;
        self.cha.record_metric_at(
            MetricKind::Histogram,
            "hydraulic_solver_iterations",
            iterations_per_pipe,
            None,
            at,
        )?;
        if arm != Arm::NotInRollout {
            self.cha
                .record(TEST, &id, "pipe_cost_efficiency", efficiency)?;
            self.cha
                .record(TEST, &id, "pressure_drop_pa_per_m", s.mean_pa_per_m)?;
            self.cha.record(TEST, &id, "sizing_time_ms", time_ms)?;
            self.cha.record(
                TEST,
                &id,
                "velocity_violations",
                f64::from(u8::from(s.outside_limits > 0)),
            )?;
        }

        self.sizings += 1;
        self.faulty += u64::from(faulty);
        let totals = self.arms.entry(arm).or_default();
        totals.sizings += 1;
        totals.time_sum += time_ms;
        totals.efficiency_sum += efficiency;
        totals.violations += u64::from(s.outside_limits > 0);
        self.engineers_in.entry(arm).or_default().insert(e);
        let week = &mut self.weeks[e];
        week.sizings += 1;
        week.slow += u32::from(faulty);
        week.intelligent |= arm == Arm::Intelligent;
        week.traditional_in_test |= arm == Arm::Traditional;

        if rng.chance(FEEDBACK_CHANCE) {
            let district_name = self.network.districts[district].name;
            let (kind, text) = feedback_text(&mut rng, arm, faulty, district_name, &s, time_ms);
            let version = if at < defect.0 {
                "2.4.3"
            } else if at < defect.1 {
                "2.5.0"
            } else {
                "2.5.1"
            };
            let mut submission = Submission::new(kind, &id, &text);
            submission.submitted_at_ms = Some(at);
            submission.context = json!({
                "network_id": district_name.to_lowercase().replace(' ', "-"),
                "app_version": version,
            })
            .as_object()
            .cloned()
            .unwrap_or_default();
            self.cha.submit_feedback(&submission)?;
            self.feedback += 1;
        }
        Ok(())
    }

    /// Friday 16:00: some of the week's engineers rate the sizing tool.
    fn friday_survey(&mut self, at: i64) -> Result<(), Error> {
        let mut rng = Rng::fork(self.settings.seed, &[0x7375_7276, at as u64]);
        let respondents: Vec<usize> = (0..self.weeks.len())
            .filter(|&e| self.weeks[e].sizings > 0 && rng.chance(SURVEY_CHANCE))
            .collect();
        // Answers arrive over an hour and a half, in order.
        let step = 90 * MINUTE / respondents.len().max(1) as i64;
        for (i, &e) in respondents.iter().enumerate() {
            let week = self.weeks[e];
            let x = rng.unit();
            let (rating, text) = if week.slow > 0 {
                let r = if x < 0.5 {
                    1
                } else if x < 0.85 {
                    2
                } else {
                    3
                };
                (r, "The update made the sizing painfully slow this week.")
            } else if week.intelligent {
                let r = if x < 0.45 {
                    5
                } else if x < 0.85 {
                    4
                } else {
                    3
                };
                (
                    r,
                    "The flow-based sizing is fast and the diameters make sense.",
                )
            } else {
                let r = if x < 0.15 {
                    2
                } else if x < 0.6 {
                    3
                } else if x < 0.93 {
                    4
                } else {
                    5
                };
                (
                    r,
                    "It works, but I correct the oversized house connections by hand.",
                )
            };
            let mut s = Submission::new(
                FeedbackType::SatisfactionSurvey,
                &self.engineers[e].id,
                text,
            );
            let when = at + i as i64 * step;
            self.at(when);
            s.rating = Some(rating);
            s.submitted_at_ms = Some(when);
            self.cha.submit_feedback(&s)?;
            self.feedback += 1;
        }
        Ok(())
    }
}

/// What an engineer writes after a sizing, with its numbers.
fn feedback_text(
    rng: &mut Rng,
    arm: Arm,
    faulty: bool,
    district: &str,
    s: &sizing::Sizing,
    time_ms: f64,
) -> (FeedbackType, String) {
    let largest = s.pipes.iter().map(|p| p.size.dn).max().unwrap_or(0);
    let smallest = s.pipes.iter().map(|p| p.size.dn).min().unwrap_or(0);
    let slow_pipes = s
        .pipes
        .iter()
        .filter(|p| p.hydraulics.velocity_m_s < 0.1)
        .count();
    let choice = rng.below(4);
    match (arm, faulty) {
        (Arm::Intelligent, true) => match choice {
            0 | 1 => (
                FeedbackType::PerformanceIssue,
                format!(
                    "Sizing the {district} district took {:.1} s after the 2.5.0 update; last week it took under a second. Far too slow.",
                    time_ms / 1000.0
                ),
            ),
            _ => (
                FeedbackType::BugReport,
                format!(
                    "Since this morning's update the sizing hangs for seconds on every network: {district} took {:.1} s.",
                    time_ms / 1000.0
                ),
            ),
        },
        (Arm::Intelligent, false) => match choice {
            0 => (
                FeedbackType::GeneralFeedback,
                format!(
                    "Flow-based sizing chose DN{largest} for the {district} feeder and DN{smallest} for the house connections, every velocity within the limits. Saves time on every project."
                ),
            ),
            1 => (
                FeedbackType::GeneralFeedback,
                format!(
                    "Excellent: the {district} network costs {:.0} kEUR with the new sizing, and no pipe is outside 0.1-2.0 m/s.",
                    s.cost_eur / 1000.0
                ),
            ),
            2 => (
                FeedbackType::FeatureRequest,
                format!(
                    "It would be useful to export the sized pipes of {district} to GIS as a shapefile."
                ),
            ),
            _ => (
                FeedbackType::UsabilityIssue,
                format!(
                    "Please show the limit next to the pressure drop: {:.0} Pa/m on the {district} feeder is hard to judge.",
                    s.max_pa_per_m
                ),
            ),
        },
        _ => match choice {
            0 | 1 => (
                FeedbackType::UsabilityIssue,
                format!(
                    "DN100 on every house connection again: {slow_pipes} of {} pipes in {district} are below 0.1 m/s. Oversized and expensive.",
                    s.pipes.len()
                ),
            ),
            2 => (
                FeedbackType::BugReport,
                format!(
                    "The fixed DN100 gives {:.1} m/s in the {district} feeder, above the 2.0 m/s limit; I resize it by hand.",
                    s.max_velocity_m_s
                ),
            ),
            _ => (
                FeedbackType::FeatureRequest,
                "Please size the house connections from the heat load instead of DN100 everywhere."
                    .into(),
            ),
        },
    }
}

fn rfc3339(ms: i64) -> String {
    cha_deploy::common::time::format_rfc3339_ms(ms)
}
