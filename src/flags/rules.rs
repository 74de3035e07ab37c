//! Targeting rules, compiled: constraints with their values parsed (numbers,
//! times, versions, CIDR ranges) and their regular expressions built once,
//! segments shared by the rules that name them, and weighted variants. A
//! rule is matched against a context without allocating.
//!
//! The same compilation validates: `crate::config` calls
//! [`CompiledConstraint::compile`] to reject a bad regex or CIDR with the
//! location of the value in the file.

use std::net::IpAddr;
use std::sync::Arc;

use super::context::{Context, Now, Stickiness, Unit, random_below};
use super::semver::Version;
use super::targeting::Variant;
use super::targeting::{Constraint, Operator};
use crate::common::bucket::SeededHash;
use crate::common::text::same;
use crate::common::time::rfc3339_ms;

/// The murmur3 seed of variant assignment: Unleash's, so that variants
/// imported from Unleash keep their units.
pub(crate) const VARIANT_HASH_SEED: u32 = 86_028_157;

/// The most compiled regex program a constraint may take: a pattern that
/// needs more is refused at validation.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// What a constraint's attribute names in a context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attribute {
    UserId,
    SessionId,
    /// Every group of the context: a constraint holds if it holds for one
    /// of them (NOT_IN: for none).
    Groups,
    Environment,
    AppName,
    /// The context's `current_time`, or the evaluation's clock.
    CurrentTime,
    RemoteAddress,
    /// The context property `hostname`, or the name of the machine.
    Hostname,
    Property(Box<str>),
}

impl Attribute {
    pub(crate) fn parse(name: &str) -> Attribute {
        match name {
            "user_id" => Attribute::UserId,
            "session_id" => Attribute::SessionId,
            "groups" => Attribute::Groups,
            "environment" => Attribute::Environment,
            "app_name" => Attribute::AppName,
            "current_time" => Attribute::CurrentTime,
            "remote_address" => Attribute::RemoteAddress,
            "hostname" => Attribute::Hostname,
            other => Attribute::Property(other.into()),
        }
    }
}

/// What an evaluation knows besides the context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'s> {
    pub now: Now,
    /// The machine's name, for `hostname` constraints.
    pub host: Option<&'s str>,
}

/// The values of an attribute in a context.
enum Values<'a> {
    Absent,
    One(&'a str),
    Many(&'a [&'a str]),
    Time(i64),
}

impl Attribute {
    #[inline(always)]
    fn values<'a>(&self, ctx: &Context<'a>, scope: &Scope<'a>) -> Values<'a> {
        let one = |v: Option<&'a str>| {
            v.filter(|v| !v.is_empty())
                .map_or(Values::Absent, Values::One)
        };
        match self {
            Attribute::UserId => one(ctx.user_id),
            Attribute::SessionId => one(ctx.session_id),
            Attribute::Groups => Values::Many(ctx.groups),
            Attribute::Environment => one(ctx.environment),
            Attribute::AppName => one(ctx.app_name),
            Attribute::CurrentTime => {
                Values::Time(ctx.current_time_ms.unwrap_or_else(|| scope.now.ms()))
            }
            Attribute::RemoteAddress => one(ctx.remote_address),
            Attribute::Hostname => one(ctx.property("hostname").or(scope.host)),
            Attribute::Property(name) => one(ctx.property(name)),
        }
    }
}

/// The longest IN list searched by equality rather than by binary search.
const SHORT_LIST: usize = 16;

/// How a compiled constraint compares.
#[derive(Debug)]
enum Test {
    /// Sorted, for binary search.
    In(Box<[Box<str>]>),
    /// Lower-cased.
    InFolded(Box<[Box<str>]>),
    Contains(Box<[Box<str>]>, bool),
    StartsWith(Box<[Box<str>]>, bool),
    EndsWith(Box<[Box<str>]>, bool),
    Num(Operator, f64),
    Date(Operator, i64),
    Semver(Operator, SemverValue),
    Regex(regex::Regex),
    Cidr(Box<[Network]>),
}

/// A version parsed once, owning its pre-release text.
#[derive(Debug)]
struct SemverValue {
    text: Box<str>,
}

impl SemverValue {
    fn version(&self) -> Version<'_> {
        Version::parse(&self.text).expect("validated when compiled")
    }
}

/// An IP range: the address masked to its prefix.
#[derive(Debug, Clone, Copy)]
struct Network {
    v4: bool,
    bits: u128,
    mask: u128,
}

impl Network {
    /// `10.0.0.0/8`, `2001:db8::/32`, or a single address.
    fn parse(text: &str) -> Option<Network> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let address: IpAddr = address.parse().ok()?;
        let width = if address.is_ipv4() { 32 } else { 128 };
        let prefix: u32 = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => width,
        };
        if prefix > width {
            return None;
        }
        let (v4, bits) = Network::bits(address);
        let mask = if prefix == 0 {
            0
        } else {
            (u128::MAX << (width - prefix)) & if v4 { u128::from(u32::MAX) } else { u128::MAX }
        };
        Some(Network {
            v4,
            bits: bits & mask,
            mask,
        })
    }

    fn bits(address: IpAddr) -> (bool, u128) {
        match address {
            IpAddr::V4(a) => (true, u128::from(u32::from(a))),
            IpAddr::V6(a) => (false, u128::from(a)),
        }
    }

    fn contains(&self, address: IpAddr) -> bool {
        let (v4, bits) = Network::bits(address);
        v4 == self.v4 && bits & self.mask == self.bits
    }
}

/// A constraint ready to be tested.
#[derive(Debug)]
pub(crate) struct CompiledConstraint {
    attribute: Attribute,
    test: Test,
    /// Whether the test's answer is turned round: NOT_IN (IN, negated:
    /// true when the attribute is absent) or `inverted`, but not both.
    flip: bool,
}

impl CompiledConstraint {
    /// Compiles a constraint: parses its numbers, times, versions and CIDR
    /// ranges, builds its regular expression.
    ///
    /// # Errors
    /// What is wrong, and in which field (`value` or `values[i]`), for a
    /// config issue: `(field, message)`.
    pub(crate) fn compile(c: &Constraint) -> Result<CompiledConstraint, (String, String)> {
        let list = &c.values;
        let one = || -> Result<&str, (String, String)> {
            c.value.as_deref().ok_or_else(|| {
                (
                    "value".into(),
                    format!("{} compares with one `value`", c.operator.as_str()),
                )
            })
        };
        let fold = |v: &str| -> Box<str> {
            if c.case_insensitive {
                v.to_lowercase().into()
            } else {
                v.into()
            }
        };
        let strings = || list.iter().map(|v| fold(v)).collect::<Box<[_]>>();
        let test = match c.operator {
            Operator::In | Operator::NotIn if c.case_insensitive => Test::InFolded(strings()),
            Operator::In | Operator::NotIn => {
                let mut sorted = strings();
                sorted.sort();
                Test::In(sorted)
            }
            Operator::StrContains => Test::Contains(strings(), c.case_insensitive),
            Operator::StrStartsWith => Test::StartsWith(strings(), c.case_insensitive),
            Operator::StrEndsWith => Test::EndsWith(strings(), c.case_insensitive),
            op @ (Operator::NumEq
            | Operator::NumGt
            | Operator::NumGte
            | Operator::NumLt
            | Operator::NumLte) => {
                let text = one()?;
                match text.trim().parse::<f64>() {
                    Ok(n) if n.is_finite() => Test::Num(op, n),
                    _ => {
                        return Err(("value".into(), format!("`{text}` is not a number")));
                    }
                }
            }
            op @ (Operator::DateAfter | Operator::DateBefore) => {
                let text = one()?;
                let ms = crate::common::time::parse_rfc3339_ms(text)
                    .map_err(|m| ("value".to_string(), m))?;
                Test::Date(op, ms)
            }
            op @ (Operator::SemverEq
            | Operator::SemverGt
            | Operator::SemverGte
            | Operator::SemverLt
            | Operator::SemverLte) => {
                let text = one()?;
                if Version::parse(text).is_none() {
                    return Err((
                        "value".into(),
                        format!("`{text}` is not a semantic version (such as 1.2.3 or 2.0.0-rc.1)"),
                    ));
                }
                Test::Semver(op, SemverValue { text: text.into() })
            }
            Operator::Regex => {
                let text = one()?;
                let regex = regex::RegexBuilder::new(text)
                    .case_insensitive(c.case_insensitive)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| {
                        let why = e.to_string();
                        let why = why
                            .lines()
                            .last()
                            .unwrap_or("")
                            .trim()
                            .trim_start_matches("error: ");
                        (
                            "value".to_string(),
                            format!("`{text}` is not a valid regular expression: {why}"),
                        )
                    })?;
                Test::Regex(regex)
            }
            Operator::InCidr => {
                let mut networks = Vec::with_capacity(list.len());
                for (i, v) in list.iter().enumerate() {
                    match Network::parse(v) {
                        Some(n) => networks.push(n),
                        None => {
                            return Err((
                                format!("values[{i}]"),
                                format!(
                                    "`{v}` is not an IP address or CIDR range (such as 10.0.0.0/8 or 2001:db8::/32)"
                                ),
                            ));
                        }
                    }
                }
                Test::Cidr(networks.into())
            }
        };
        let attribute = Attribute::parse(&c.attribute);
        if attribute == Attribute::CurrentTime
            && !matches!(c.operator, Operator::DateAfter | Operator::DateBefore)
        {
            return Err((
                "operator".into(),
                format!(
                    "current_time is compared with DATE_AFTER or DATE_BEFORE, not {}",
                    c.operator.as_str()
                ),
            ));
        }
        Ok(CompiledConstraint {
            attribute,
            test,
            flip: (c.operator == Operator::NotIn) != c.inverted,
        })
    }

    /// Whether the constraint holds for `ctx`. Inlined into the rule's
    /// loop: a call per constraint saved and restored six registers.
    #[inline(always)]
    pub(crate) fn holds(&self, ctx: &Context<'_>, scope: &Scope<'_>) -> bool {
        let found = match self.attribute.values(ctx, scope) {
            Values::Absent => false,
            Values::One(v) => self.test.on_text(v),
            Values::Many(vs) => vs.iter().any(|v| !v.is_empty() && self.test.on_text(v)),
            Values::Time(ms) => self.test.on_time(ms),
        };
        found != self.flip
    }
}

impl Test {
    /// The common tests inline (a short IN list, a whole number against a
    /// number), the rest out of line: a call of the whole `match` saved
    /// and restored registers for every constraint.
    #[inline(always)]
    fn on_text(&self, v: &str) -> bool {
        match self {
            // A short list by equality: a length check first, then the
            // bytes, inline.
            Test::In(list) if list.len() <= SHORT_LIST => list.iter().any(|x| same(x, v)),
            Test::Num(op, n) => match whole_number(v) {
                Some(x) => compare_numbers(*op, x, *n),
                None => self.on_any_text(v),
            },
            _ => self.on_any_text(v),
        }
    }

    /// Every test, for any text.
    #[inline(never)]
    fn on_any_text(&self, v: &str) -> bool {
        match self {
            Test::In(list) if list.len() <= SHORT_LIST => list.iter().any(|x| same(x, v)),
            // A long list (sorted) by binary search.
            Test::In(sorted) => sorted.binary_search_by(|x| (**x).cmp(v)).is_ok(),
            Test::InFolded(values) => values.iter().any(|x| folded_eq(v, x)),
            Test::Contains(values, fold) => values.iter().any(|x| {
                if *fold {
                    folded_contains(v, x)
                } else {
                    v.contains(&**x)
                }
            }),
            Test::StartsWith(values, fold) => values.iter().any(|x| {
                if *fold {
                    folded_starts_with(v, x)
                } else {
                    v.starts_with(&**x)
                }
            }),
            Test::EndsWith(values, fold) => values.iter().any(|x| {
                if *fold {
                    folded_ends_with(v, x)
                } else {
                    v.ends_with(&**x)
                }
            }),
            Test::Num(op, n) => number(v).is_some_and(|x| compare_numbers(*op, x, *n)),
            Test::Date(op, ms) => rfc3339_ms(v).is_some_and(|t| date(*op, t, *ms)),
            Test::Semver(op, value) => Version::parse(v)
                .is_some_and(|x| compare(*op, Some(x.precedence(&value.version())))),
            Test::Regex(regex) => regex.is_match(v),
            Test::Cidr(networks) => v
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|a| networks.iter().any(|n| n.contains(a))),
        }
    }

    fn on_time(&self, t: i64) -> bool {
        match self {
            Test::Date(op, ms) => date(*op, t, *ms),
            _ => false,
        }
    }
}

/// A context value as a number, as `str::parse::<f64>` reads it. Whole
/// numbers of up to 15 digits (network sizes, counts) are read digit by
/// digit, exactly: several times faster than the general parser, and the
/// common case of a numeric constraint.
#[inline]
fn number(v: &str) -> Option<f64> {
    // Untrimmed first: trimming looks for Unicode white space at both ends,
    // which costs more than reading the digits.
    if let Some(n) = whole_number(v) {
        return Some(n);
    }
    let t = v.trim();
    if let Some(n) = whole_number(t) {
        return Some(n);
    }
    t.parse::<f64>().ok()
}

/// `t` as a number when it is an optional sign and 1 to 15 ASCII digits.
#[inline(always)]
fn whole_number(t: &str) -> Option<f64> {
    let (negative, digits) = match t.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        all => (false, all),
    };
    if !digits.is_empty() && digits.len() <= 15 && digits.iter().all(u8::is_ascii_digit) {
        let n = digits
            .iter()
            .fold(0i64, |n, d| n * 10 + i64::from(d - b'0')) as f64;
        return Some(if negative { -n } else { n });
    }
    None
}

/// `x op n` for a NUM_ operator (NaN compares false, as `partial_cmp`).
#[inline(always)]
fn compare_numbers(op: Operator, x: f64, n: f64) -> bool {
    match op {
        Operator::NumEq => x == n,
        Operator::NumGt => x > n,
        Operator::NumGte => x >= n,
        Operator::NumLt => x < n,
        Operator::NumLte => x <= n,
        _ => false,
    }
}

fn date(op: Operator, t: i64, value: i64) -> bool {
    match op {
        Operator::DateAfter => t > value,
        _ => t < value,
    }
}

fn compare(op: Operator, order: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    let Some(order) = order else { return false };
    match op {
        Operator::NumEq | Operator::SemverEq => order == Equal,
        Operator::NumGt | Operator::SemverGt => order == Greater,
        Operator::NumGte | Operator::SemverGte => order != Less,
        Operator::NumLt | Operator::SemverLt => order == Less,
        Operator::NumLte | Operator::SemverLte => order != Greater,
        _ => false,
    }
}

/// The characters of `s`, lower-cased, without allocating.
fn folded(s: &str) -> impl DoubleEndedIterator<Item = char> + Clone + '_ {
    s.chars().flat_map(char::to_lowercase)
}

/// `v` equals `lower` (already lower-cased) without regard to case.
fn folded_eq(v: &str, lower: &str) -> bool {
    if v.is_ascii() && lower.is_ascii() {
        return v.eq_ignore_ascii_case(lower);
    }
    folded(v).eq(lower.chars())
}

fn folded_starts_with(v: &str, lower: &str) -> bool {
    let mut hay = folded(v);
    lower.chars().all(|c| hay.next() == Some(c))
}

fn folded_ends_with(v: &str, lower: &str) -> bool {
    let mut hay = folded(v).rev();
    lower.chars().rev().all(|c| hay.next() == Some(c))
}

fn folded_contains(v: &str, lower: &str) -> bool {
    if lower.is_empty() {
        return true;
    }
    v.char_indices()
        .any(|(i, _)| folded_starts_with(&v[i..], lower))
}

/// A segment's constraints, compiled once and shared by the rules that
/// name it.
#[derive(Debug)]
pub(crate) struct CompiledSegment {
    pub constraints: Box<[CompiledConstraint]>,
}

/// Weighted variants with overrides, assigned as Unleash assigns them.
#[derive(Debug)]
pub(crate) struct VariantSet {
    hash: SeededHash,
    unit: Stickiness,
    variants: Box<[WeightedVariant]>,
    /// The sum of the weights, in whole units of the weights (hundredths
    /// when a weight has decimals).
    total: u32,
    /// The one variant with a weight, when there is only one: every unit
    /// gets it, with or without the stickiness attribute.
    sole: Option<usize>,
    /// "context has no user_id for the variants of rule 1"
    pub missing_rule: Box<str>,
}

#[derive(Debug)]
pub(crate) struct WeightedVariant {
    pub name: Box<str>,
    pub payload: Option<serde_json::Value>,
    pub enabled: bool,
    /// The cumulative weight up to and including this variant.
    upper: u32,
    overrides: Box<[CompiledOverride]>,
}

/// Units whose `Attribute` has one of these values get the variant.
type CompiledOverride = (Attribute, Box<[Box<str>]>);

impl VariantSet {
    /// The variants of `variants` (non-empty), for units of `stickiness`
    /// hashed with `seed`.
    pub(crate) fn new(
        variants: &[Variant],
        seed: &str,
        stickiness: Option<&str>,
        missing_rule: Box<str>,
    ) -> VariantSet {
        let whole = variants.iter().all(|v| v.weight.fract() == 0.0);
        let units = |w: f64| -> u32 {
            let scaled = if whole { w } else { w * 100.0 };
            scaled.round().clamp(0.0, f64::from(u32::MAX)) as u32
        };
        let mut upper = 0u32;
        let compiled = variants
            .iter()
            .map(|v| {
                upper = upper.saturating_add(units(v.weight));
                let mut overrides: Vec<(Attribute, Box<[Box<str>]>)> = Vec::new();
                for o in &v.overrides {
                    let mut values: Vec<Box<str>> =
                        o.values.iter().map(|s| s.as_str().into()).collect();
                    values.sort();
                    overrides.push((Attribute::parse(&o.attribute), values.into()));
                }
                WeightedVariant {
                    name: v.name.as_str().into(),
                    payload: v.payload.clone(),
                    enabled: v.enabled,
                    upper,
                    overrides: overrides.into(),
                }
            })
            .collect();
        let weighted: Vec<usize> = variants
            .iter()
            .enumerate()
            .filter(|(_, v)| units(v.weight) > 0)
            .map(|(i, _)| i)
            .collect();
        VariantSet {
            hash: SeededHash::with_hash_seed(seed, VARIANT_HASH_SEED),
            unit: Stickiness::parse(stickiness),
            variants: compiled,
            total: upper,
            sole: (weighted.len() == 1).then(|| weighted[0]),
            missing_rule,
        }
    }

    /// The variant of `ctx`: an override that names it, else by weight.
    /// `None` when the unit's attribute is missing (or no weight is set).
    pub(crate) fn pick<'s>(
        &'s self,
        ctx: &Context<'_>,
        scope: &Scope<'_>,
    ) -> Option<&'s WeightedVariant> {
        for v in &self.variants[..] {
            for (attribute, values) in &v.overrides[..] {
                let listed = |x: &str| values.binary_search_by(|y| (**y).cmp(x)).is_ok();
                let hit = match attribute.values(ctx, scope) {
                    Values::One(x) => listed(x),
                    Values::Many(xs) => xs.iter().any(|x| listed(x)),
                    _ => false,
                };
                if hit {
                    return Some(v);
                }
            }
        }
        if let Some(i) = self.sole {
            return self.variants.get(i);
        }
        if self.total == 0 {
            return None;
        }
        // Unleash: murmur3("{groupId}:{unit}", 86028157) % total + 1, the
        // first variant whose cumulative weight reaches it.
        let target = match ctx.unit(&self.unit)? {
            Unit::Key(key) => self.hash.bucket(key, self.total) + 1,
            Unit::Random => random_below(self.total) + 1,
        };
        self.variants.iter().find(|v| v.upper >= target)
    }

    /// The variants' names, in order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.variants.iter().map(|v| &*v.name)
    }
}

/// A rollout inside a rule.
#[derive(Debug)]
pub(crate) struct Rollout {
    hash: SeededHash,
    unit: Stickiness,
    hundredths: u32,
}

impl Rollout {
    pub(crate) fn new(seed: &str, stickiness: Option<&str>, hundredths: u32) -> Rollout {
        Rollout {
            hash: SeededHash::new(seed),
            unit: Stickiness::parse(stickiness),
            hundredths,
        }
    }

    /// Whether the rollout takes the unit of `ctx`. Unleash's bucket for
    /// whole percentages (`murmur3("{seed}:{unit}") % 100`, so imported
    /// rollouts keep their units), refined by the next two decimal digits
    /// of the hash for hundredths. A unit without its attribute is not
    /// taken.
    fn takes(&self, ctx: &Context<'_>) -> bool {
        let hash = match ctx.unit(&self.unit) {
            Some(Unit::Key(key)) => self.hash.hash(key),
            Some(Unit::Random) => random_below(u32::MAX),
            None => return false,
        };
        let bucket = (hash % 100) * 100 + (hash / 100) % 100;
        bucket < self.hundredths
    }
}

/// A compiled rule.
#[derive(Debug)]
pub(crate) struct CompiledRule {
    pub constraints: Box<[CompiledConstraint]>,
    pub segments: Box<[Arc<CompiledSegment>]>,
    pub rollout: Option<Rollout>,
    pub serve: bool,
    pub variants: Option<VariantSet>,
    /// "rule pilot_sites" or "rules[1]", with its environment if any.
    pub rule: Box<str>,
}

impl CompiledRule {
    /// Whether the rule takes `ctx`: every constraint and segment holds,
    /// and its rollout (if any) takes the unit.
    #[inline(always)]
    pub(crate) fn matches(&self, ctx: &Context<'_>, scope: &Scope<'_>) -> bool {
        self.constraints.iter().all(|c| c.holds(ctx, scope))
            && self
                .segments
                .iter()
                .all(|s| s.constraints.iter().all(|c| c.holds(ctx, scope)))
            && self.rollout.as_ref().is_none_or(|r| r.takes(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn constraint(
        attribute: &str,
        op: Operator,
        values: &[&str],
        value: Option<&str>,
    ) -> Constraint {
        Constraint {
            attribute: attribute.into(),
            operator: op,
            values: values.iter().map(|v| v.to_string()).collect(),
            value: value.map(str::to_string),
            case_insensitive: false,
            inverted: false,
        }
    }

    fn holds(c: &Constraint, ctx: &Context<'_>) -> bool {
        let scope = Scope {
            now: Now::At(0),
            host: Some("Build-Host"),
        };
        CompiledConstraint::compile(c).unwrap().holds(ctx, &scope)
    }

    #[test]
    fn cidr_ranges_and_addresses() {
        let c = constraint(
            "remote_address",
            Operator::InCidr,
            &["10.0.0.0/8", "192.168.1.7", "2001:db8::/32"],
            None,
        );
        let at = |a: &'static str| Context {
            remote_address: Some(a),
            ..Context::default()
        };
        assert!(holds(&c, &at("10.200.3.4")));
        assert!(holds(&c, &at("192.168.1.7")));
        assert!(!holds(&c, &at("192.168.1.8")));
        assert!(holds(&c, &at("2001:db8:0:1::42")));
        assert!(!holds(&c, &at("2001:db9::1")));
        assert!(!holds(&c, &at("not an address")));
        assert!(!holds(&c, &Context::default()));
        let bad = constraint("remote_address", Operator::InCidr, &["10.0.0.0/33"], None);
        let (field, message) = CompiledConstraint::compile(&bad).unwrap_err();
        assert_eq!(field, "values[0]");
        assert!(
            message.contains("not an IP address or CIDR range"),
            "{message}"
        );
        assert!(
            Network::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
    }

    #[test]
    fn case_insensitive_operators_fold_unicode() {
        let mut c = constraint("city", Operator::StrEndsWith, &["MÜNCHEN"], None);
        c.case_insensitive = true;
        let props = [("city", "Stadtwerke münchen")];
        let ctx = Context {
            properties: &props,
            ..Context::default()
        };
        assert!(holds(&c, &ctx));
        c.operator = Operator::StrContains;
        c.values = vec!["WERKE M".into()];
        assert!(holds(&c, &ctx));
        c.operator = Operator::StrStartsWith;
        c.values = vec!["stadtWERKE".into()];
        assert!(holds(&c, &ctx));
        c.operator = Operator::In;
        c.values = vec!["STADTWERKE MÜNCHEN".into()];
        assert!(holds(&c, &ctx));
        c.case_insensitive = false;
        assert!(!holds(&c, &ctx));
    }

    #[test]
    fn groups_hold_for_any_group_and_hostname_falls_back_to_the_machine() {
        let groups = ["planners", "beta_testers"];
        let ctx = Context {
            groups: &groups,
            ..Context::default()
        };
        assert!(holds(
            &constraint("groups", Operator::In, &["beta_testers"], None),
            &ctx
        ));
        assert!(!holds(
            &constraint("groups", Operator::NotIn, &["beta_testers"], None),
            &ctx
        ));
        assert!(holds(
            &constraint("groups", Operator::NotIn, &["x"], None),
            &Context::default()
        ));
        assert!(holds(
            &constraint("hostname", Operator::In, &["Build-Host"], None),
            &Context::default()
        ));
        let props = [("hostname", "other")];
        let ctx = Context {
            properties: &props,
            ..Context::default()
        };
        assert!(!holds(
            &constraint("hostname", Operator::In, &["Build-Host"], None),
            &ctx
        ));
    }

    #[test]
    fn bad_values_are_refused_when_compiled() {
        let cases = [
            (
                constraint("v", Operator::NumGt, &[], Some("many")),
                "value",
                "`many` is not a number",
            ),
            (
                constraint("v", Operator::NumGt, &[], None),
                "value",
                "NUM_GT compares with one `value`",
            ),
            (
                constraint("v", Operator::SemverEq, &[], Some("v2.0.0")),
                "value",
                "is not a semantic version",
            ),
            (
                constraint("v", Operator::Regex, &[], Some("(regex")),
                "value",
                "is not a valid regular expression",
            ),
            (
                constraint("v", Operator::Regex, &[], Some("^(a)\\1$")),
                "value",
                "is not a valid regular expression",
            ),
            (
                constraint("v", Operator::DateAfter, &[], Some("soon")),
                "value",
                "is not an RFC 3339 time",
            ),
            (
                constraint("current_time", Operator::In, &["x"], None),
                "operator",
                "current_time is compared with DATE_AFTER",
            ),
        ];
        for (c, field, message) in cases {
            let (f, m) = CompiledConstraint::compile(&c).unwrap_err();
            assert_eq!(f, field, "{m}");
            assert!(m.contains(message), "{m}");
        }
    }

    #[test]
    fn short_and_long_in_lists_answer_alike() {
        let sites: Vec<String> = (0..40).map(|i| format!("site-{i:02}")).collect();
        for n in [1, 3, 16, 17, 40] {
            let values: Vec<&str> = sites[..n].iter().map(String::as_str).collect();
            for op in [Operator::In, Operator::NotIn] {
                let c = constraint("site", op, &values, None);
                for (site, listed) in [
                    ("site-00", true),
                    (sites[n - 1].as_str(), true),
                    ("site-99", false),
                    ("", false),
                ] {
                    let props = [("site", site)];
                    let ctx = Context {
                        properties: &props,
                        ..Context::default()
                    };
                    // An empty value is absent: IN fails, NOT_IN holds.
                    let expected = (listed && !site.is_empty()) == (op == Operator::In);
                    assert_eq!(holds(&c, &ctx), expected, "{n} values, {op:?}, {site:?}");
                }
            }
        }
    }

    #[test]
    fn numbers_read_as_the_general_parser_reads_them() {
        for v in [
            "0",
            "-0",
            "+7",
            "800",
            " 42 ",
            "999999999999999",
            "1000000000000000",
            "-123456789012345",
            "12345678901234567890",
            "2.5",
            "1e3",
            "-",
            "+",
            "",
            "1_000",
            "0x10",
            "inf",
            "NaN",
            "07",
            "--1",
            "+-1",
            "१२",
        ] {
            let expected = v.trim().parse::<f64>().ok();
            let got = number(v);
            assert_eq!(
                got.map(f64::to_bits),
                expected.map(f64::to_bits),
                "{v:?}: {got:?} vs {expected:?}"
            );
        }
    }

    #[test]
    fn random_stays_below_its_bound() {
        let mut seen = [false; 4];
        for _ in 0..1000 {
            seen[random_below(4) as usize] = true;
        }
        assert_eq!(seen, [true; 4]);
    }
}
