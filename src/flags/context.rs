//! Who and where a flag is evaluated for: the borrowed [`Context`] the hot
//! paths take, the attribute a unit is sticky on, and the owned context
//! parsed from JSON (the C ABI's `context_json`, the CLI's `--context`),
//! which lends itself out as a borrowed [`Context`].

use std::cell::Cell;

use crate::common::limits::{MAX_CONTEXT_GROUPS, excerpt};
use crate::common::time::parse_rfc3339_ms;
use crate::error::{Error, Result};

/// Who and where a flag is evaluated for. Every field is optional; an empty
/// string counts as absent (C callers often pass `""` for "none").
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    pub user_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub groups: &'a [&'a str],
    pub environment: Option<&'a str>,
    pub app_name: Option<&'a str>,
    /// When set, replaces the caller's clock (`now_ms`) for time-based flags:
    /// lets tests and what-if queries evaluate at any instant.
    pub current_time_ms: Option<i64>,
    pub remote_address: Option<&'a str>,
    /// Custom attributes, usable as stickiness.
    pub properties: &'a [(&'a str, &'a str)],
    /// Look without exposing: a flag linked to an experiment answers with
    /// the variant the unit would get, and the unit is not exposed (JSON
    /// key `"peek": true`).
    pub peek: bool,
}

impl<'a> Context<'a> {
    /// A context with only a user id.
    pub fn user(user_id: &'a str) -> Context<'a> {
        Context {
            user_id: Some(user_id),
            ..Context::default()
        }
    }

    /// The unit of the attribute a flag is sticky on: its value if present
    /// and non-empty; for `default`, the user id, else the session id,
    /// else a random unit; for `random`, always a random one.
    #[inline(always)]
    pub(crate) fn unit(&self, stickiness: &Stickiness) -> Option<Unit<'a>> {
        let key = |v: Option<&'a str>| v.filter(|v| !v.is_empty()).map(Unit::Key);
        match stickiness {
            Stickiness::UserId => key(self.user_id),
            Stickiness::SessionId => key(self.session_id),
            Stickiness::Environment => key(self.environment),
            Stickiness::AppName => key(self.app_name),
            Stickiness::RemoteAddress => key(self.remote_address),
            Stickiness::Property(name) => key(self.property(name)),
            Stickiness::Default => key(self.user_id)
                .or_else(|| key(self.session_id))
                .or(Some(Unit::Random)),
            Stickiness::Random => Some(Unit::Random),
        }
    }

    /// The custom property `name`, if the context has it.
    #[inline(always)]
    pub(crate) fn property(&self, name: &str) -> Option<&'a str> {
        self.properties
            .iter()
            .find(|(k, _)| crate::common::text::same(k, name))
            .map(|(_, v)| *v)
    }

    pub(crate) fn in_group(&self, group: &str) -> bool {
        self.groups.contains(&group)
    }
}

/// The context attribute that identifies a unit for bucketing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stickiness {
    UserId,
    SessionId,
    Environment,
    AppName,
    RemoteAddress,
    Property(Box<str>),
    /// Unleash's `default`: the user id, else the session id, else random.
    Default,
    /// A random unit on every evaluation: not sticky at all.
    Random,
}

impl Stickiness {
    pub(crate) fn parse(name: Option<&str>) -> Stickiness {
        match name.unwrap_or("user_id") {
            "user_id" => Stickiness::UserId,
            "session_id" => Stickiness::SessionId,
            "environment" => Stickiness::Environment,
            "app_name" => Stickiness::AppName,
            "remote_address" => Stickiness::RemoteAddress,
            "default" => Stickiness::Default,
            "random" => Stickiness::Random,
            other => Stickiness::Property(other.into()),
        }
    }
}

/// What a unit is hashed by: the value of its attribute, or nothing (a
/// random bucket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit<'a> {
    Key(&'a str),
    Random,
}

impl Unit<'_> {
    /// The unit's bucket (`0..buckets`) for a flag hashed with `seed`.
    #[inline]
    pub(crate) fn bucket(self, seed: &crate::common::bucket::SeededHash, buckets: u32) -> u32 {
        match self {
            Unit::Key(key) => seed.bucket(key, buckets),
            Unit::Random => random_below(buckets),
        }
    }
}

/// A context that owns its strings, parsed from
/// `{"user_id", "session_id", "groups": [..], "environment", "app_name",
/// "current_time": RFC 3339, "remote_address", "properties": {..}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnedContext {
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub groups: Vec<String>,
    pub environment: Option<String>,
    pub app_name: Option<String>,
    pub current_time_ms: Option<i64>,
    pub remote_address: Option<String>,
    pub properties: Vec<(String, String)>,
    pub peek: bool,
}

const KEYS: [&str; 9] = [
    "user_id",
    "session_id",
    "groups",
    "environment",
    "app_name",
    "current_time",
    "remote_address",
    "properties",
    "peek",
];

/// The error for a context of `n` groups, more than [`MAX_CONTEXT_GROUPS`]:
/// the same from JSON and from `cha_flag_enabled`'s list.
#[cold]
pub(crate) fn too_many_groups(n: usize) -> Error {
    Error::invalid_argument(format!(
        "context has {n} groups, more than the {MAX_CONTEXT_GROUPS} allowed"
    ))
}

impl OwnedContext {
    /// Parses context JSON. An empty or all-blank text is the empty context.
    ///
    /// # Errors
    /// `InvalidArgument` naming the problem: not JSON, not an object, an
    /// unknown key, a wrong type, a `current_time` that is not RFC 3339.
    pub fn from_json(text: &str) -> Result<OwnedContext> {
        if text.trim().is_empty() {
            return Ok(OwnedContext::default());
        }
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid_argument(format!("context is not valid JSON: {e}")))?;
        OwnedContext::from_value(&value)
    }

    /// [`OwnedContext::from_json`] for an already parsed value.
    ///
    /// # Errors
    /// As [`OwnedContext::from_json`].
    pub fn from_value(value: &serde_json::Value) -> Result<OwnedContext> {
        let bad = |key: &str, expected: &str| {
            Error::invalid_argument(format!("context.{key}: expected {expected}"))
        };
        let serde_json::Value::Object(map) = value else {
            return Err(Error::invalid_argument(
                "context must be a JSON object such as {\"user_id\": \"u1\", \"groups\": [\"beta\"]}",
            ));
        };
        let mut ctx = OwnedContext::default();
        for (key, v) in map {
            if v.is_null() {
                continue;
            }
            let text = || {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad(key, "a string"))
            };
            let id = || {
                crate::common::ids::id_text(v).ok_or_else(|| bad(key, "a string or a whole number"))
            };
            match key.as_str() {
                "user_id" => ctx.user_id = Some(id()?),
                "session_id" => ctx.session_id = Some(id()?),
                "environment" => ctx.environment = Some(text()?),
                "app_name" => ctx.app_name = Some(text()?),
                "remote_address" => ctx.remote_address = Some(text()?),
                "current_time" => {
                    let t = text()?;
                    ctx.current_time_ms = Some(parse_rfc3339_ms(&t).map_err(|m| {
                        Error::invalid_argument(format!("context.current_time: {m}"))
                    })?);
                }
                "peek" => ctx.peek = v.as_bool().ok_or_else(|| bad(key, "true or false"))?,
                "groups" => {
                    let items = v.as_array().ok_or_else(|| bad(key, "a list of strings"))?;
                    if items.len() > MAX_CONTEXT_GROUPS {
                        return Err(too_many_groups(items.len()));
                    }
                    for (i, item) in items.iter().enumerate() {
                        let group = item
                            .as_str()
                            .ok_or_else(|| bad(&format!("groups[{i}]"), "a string"))?;
                        ctx.groups.push(group.to_owned());
                    }
                }
                "properties" => {
                    let object = v
                        .as_object()
                        .ok_or_else(|| bad(key, "an object of attributes"))?;
                    for (name, p) in object {
                        // Numbers and booleans are accepted as their JSON text,
                        // so `{"network_size": 120}` works from Python.
                        let value = match p {
                            serde_json::Value::String(s) => s.clone(),
                            serde_json::Value::Number(n) => n.to_string(),
                            serde_json::Value::Bool(b) => b.to_string(),
                            serde_json::Value::Null => continue,
                            _ => {
                                return Err(bad(
                                    &format!("properties.{}", excerpt(name)),
                                    "a string, number or boolean",
                                ));
                            }
                        };
                        ctx.properties.push((name.clone(), value));
                    }
                }
                other => {
                    return Err(Error::invalid_argument(format!(
                        "context: unknown key `{}` (known keys: {})",
                        excerpt(other),
                        KEYS.join(", ")
                    )));
                }
            }
        }
        Ok(ctx)
    }

    /// Calls `f` with a borrowed [`Context`] of this one. (The borrowed form
    /// holds slices of `&str`, which need a place to live for the call.)
    pub fn with_context<R>(&self, f: impl FnOnce(&Context<'_>) -> R) -> R {
        let groups: Vec<&str> = self.groups.iter().map(String::as_str).collect();
        let properties: Vec<(&str, &str)> = self
            .properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let ctx = Context {
            user_id: self.user_id.as_deref(),
            session_id: self.session_id.as_deref(),
            groups: &groups,
            environment: self.environment.as_deref(),
            app_name: self.app_name.as_deref(),
            current_time_ms: self.current_time_ms,
            remote_address: self.remote_address.as_deref(),
            properties: &properties,
            peek: self.peek,
        };
        f(&ctx)
    }
}

/// A context parsed and checked once, kept ready to lend out as a borrowed
/// [`Context`] at no cost: what a program that evaluates many flags for
/// the same unit holds on to (the C ABI's `cha_context`, Python's
/// `PreparedContext`). [`OwnedContext::with_context`] builds the borrowed
/// slices of groups and properties on every call; this builds them once.
///
/// Compact: every string of the context lies in one buffer, so that an
/// evaluation reads a few neighbouring cache lines rather than a dozen
/// separate allocations (a program keeping thousands of contexts would
/// otherwise miss the cache on most of them).
pub struct PreparedContext {
    /// The context, its strings pointing into `text`, its groups and
    /// properties into the two lists below. Only ever lent out reborrowed
    /// for the life of `&self` (see [`PreparedContext::context`]).
    context: Context<'static>,
    // Where `context` points; never changed nor moved out while `self`
    // lives (their heap buffers stay where they are when `self` moves).
    // `Vec`s and a `String`, not `Box`es: moving a `Box` asserts that it
    // is the only way to its buffer, which the views above contradict.
    _groups: Vec<&'static str>,
    _properties: Vec<(&'static str, &'static str)>,
    _text: String,
}

impl PreparedContext {
    /// Prepares `owned` for repeated evaluation.
    pub fn new(owned: OwnedContext) -> PreparedContext {
        let mut text = String::with_capacity(
            [&owned.user_id, &owned.session_id, &owned.environment]
                .into_iter()
                .chain([&owned.app_name, &owned.remote_address])
                .map(|s| s.as_ref().map_or(0, String::len))
                .sum::<usize>()
                + owned.groups.iter().map(String::len).sum::<usize>()
                + owned
                    .properties
                    .iter()
                    .map(|(k, v)| k.len() + v.len())
                    .sum::<usize>(),
        );
        let mut push = |s: &str| {
            let start = text.len();
            text.push_str(s);
            start..text.len()
        };
        let user_id = owned.user_id.as_deref().map(&mut push);
        let session_id = owned.session_id.as_deref().map(&mut push);
        let environment = owned.environment.as_deref().map(&mut push);
        let app_name = owned.app_name.as_deref().map(&mut push);
        let remote_address = owned.remote_address.as_deref().map(&mut push);
        let groups: Vec<_> = owned.groups.iter().map(|g| push(g)).collect();
        let properties: Vec<_> = owned
            .properties
            .iter()
            .map(|(k, v)| (push(k), push(v)))
            .collect();
        // SAFETY (all `at`): the `&'static str`s point into `text`'s heap
        // buffer, which `self` owns, never changes and never moves out; they
        // are only handed out reborrowed for the life of `&self`, so none
        // outlives the buffer. The ranges are of whole strings pushed above,
        // so on character boundaries.
        let base: *const str = text.as_str();
        let at = |r: std::ops::Range<usize>| -> &'static str { unsafe { &(&*base)[r] } };
        let groups: Vec<&'static str> = groups.into_iter().map(at).collect();
        let properties: Vec<(&'static str, &'static str)> = properties
            .into_iter()
            .map(|(k, v)| (at(k), at(v)))
            .collect();
        // SAFETY: as above, for the two lists' heap buffers.
        let lists: (
            &'static [&'static str],
            &'static [(&'static str, &'static str)],
        ) = unsafe {
            (
                &*(groups.as_slice() as *const _),
                &*(properties.as_slice() as *const _),
            )
        };
        PreparedContext {
            context: Context {
                user_id: user_id.map(at),
                session_id: session_id.map(at),
                groups: lists.0,
                environment: environment.map(at),
                app_name: app_name.map(at),
                current_time_ms: owned.current_time_ms,
                remote_address: remote_address.map(at),
                properties: lists.1,
                peek: owned.peek,
            },
            _groups: groups,
            _properties: properties,
            _text: text,
        }
    }

    /// Parses and checks context JSON once ([`OwnedContext::from_json`]).
    ///
    /// # Errors
    /// As [`OwnedContext::from_json`].
    pub fn from_json(text: &str) -> Result<PreparedContext> {
        OwnedContext::from_json(text).map(PreparedContext::new)
    }

    /// The context, borrowed from `self`: no allocation, no copy of the
    /// groups or properties.
    #[inline(always)]
    pub fn context(&self) -> &Context<'_> {
        &self.context
    }

    /// The context as an [`OwnedContext`] (a copy).
    pub fn to_owned_context(&self) -> OwnedContext {
        let c = &self.context;
        let own = |s: Option<&str>| s.map(str::to_owned);
        OwnedContext {
            user_id: own(c.user_id),
            session_id: own(c.session_id),
            groups: c.groups.iter().map(|g| g.to_string()).collect(),
            environment: own(c.environment),
            app_name: own(c.app_name),
            current_time_ms: c.current_time_ms,
            remote_address: own(c.remote_address),
            properties: c
                .properties
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            peek: c.peek,
        }
    }
}

impl Clone for PreparedContext {
    /// A copy with views of its own strings (a derived `Clone` would copy
    /// views into the original's).
    fn clone(&self) -> Self {
        PreparedContext::new(self.to_owned_context())
    }
}

impl std::fmt::Debug for PreparedContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PreparedContext")
            .field(&self.context)
            .finish()
    }
}

impl From<OwnedContext> for PreparedContext {
    fn from(owned: OwnedContext) -> Self {
        PreparedContext::new(owned)
    }
}

/// The instant an evaluation happens at. Only time-based flags read it, so
/// the system clock (about 20 ns, more than a whole boolean check) is read
/// lazily, and only by them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Now {
    /// A fixed instant, Unix epoch milliseconds: an injected clock.
    At(i64),
    /// The system clock, read when needed.
    System,
}

impl Now {
    pub(crate) fn ms(self) -> i64 {
        match self {
            Now::At(ms) => ms,
            Now::System => crate::clock::now_ms(),
        }
    }
}

impl From<i64> for Now {
    fn from(ms: i64) -> Now {
        Now::At(ms)
    }
}

thread_local! {
    /// Each thread's random state (xorshift64*), seeded once from the
    /// standard library's per-process random keys.
    static RANDOM: Cell<u64> = Cell::new({
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(&h as *const _ as usize);
        h.finish() | 1
    });
}

/// A pseudo-random number below `n` (> 0): for `random` stickiness, which
/// is random on purpose.
pub(crate) fn random_below(n: u32) -> u32 {
    let x = RANDOM.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    });
    ((x >> 32) % u64::from(n)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key() {
        let ctx = OwnedContext::from_json(
            r#"{"user_id":"u1","session_id":"s1","groups":["beta","ops"],"environment":"prod",
                "app_name":"sizer","current_time":"2026-01-05T08:00:00Z","remote_address":"10.0.0.1",
                "properties":{"network":"north","pipes":120,"legacy":false,"none":null}}"#,
        )
        .unwrap();
        assert_eq!(ctx.current_time_ms, Some(1_767_600_000_000));
        assert_eq!(ctx.groups, ["beta", "ops"]);
        assert_eq!(
            ctx.properties,
            [
                ("legacy".into(), "false".into()),
                ("network".into(), "north".into()),
                ("pipes".into(), "120".into())
            ]
        );
        ctx.with_context(|c| {
            assert_eq!(c.user_id, Some("u1"));
            assert_eq!(c.groups, ["beta", "ops"]);
        });
        assert_eq!(
            OwnedContext::from_json("  ").unwrap(),
            OwnedContext::default()
        );
    }

    #[test]
    fn a_prepared_context_lends_what_was_parsed() {
        let prepared = PreparedContext::from_json(
            r#"{"user_id":"u1","groups":["beta","ops"],"app_name":"sizer",
                "properties":{"site":"north-7","network_size":800}}"#,
        )
        .unwrap();
        let copy = prepared.clone();
        assert_eq!(copy.to_owned_context(), prepared.to_owned_context());
        drop(prepared);
        let c = copy.context();
        assert_eq!(c.user_id, Some("u1"));
        assert_eq!(c.app_name, Some("sizer"));
        assert_eq!(c.groups, ["beta", "ops"]);
        assert_eq!(c.properties, [("network_size", "800"), ("site", "north-7")]);
        assert_eq!(c.property("network_size"), Some("800"));
        // Moved, it still lends the same strings.
        // Shared between threads as C and Python share it.
        fn send_and_sync<T: Send + Sync>(_: &T) {}
        send_and_sync(&copy);
        let moved = Box::new(copy);
        assert_eq!(moved.context().property("site"), Some("north-7"));
        assert_eq!(
            PreparedContext::from_json("{").unwrap_err().kind(),
            crate::ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn a_whole_number_id_is_its_decimal_digits() {
        let ctx = OwnedContext::from_json(r#"{"user_id": 4711, "session_id": 7}"#).unwrap();
        assert_eq!(ctx.user_id.as_deref(), Some("4711"));
        assert_eq!(ctx.session_id.as_deref(), Some("7"));
    }

    #[test]
    fn bad_context_says_what_is_wrong() {
        let cases = [
            ("{", "context is not valid JSON"),
            ("[1]", "context must be a JSON object"),
            (
                r#"{"user_id": 5.5}"#,
                "context.user_id: expected a string or a whole number",
            ),
            (
                r#"{"session_id": true}"#,
                "context.session_id: expected a string or a whole number",
            ),
            (
                r#"{"groups": "beta"}"#,
                "context.groups: expected a list of strings",
            ),
            (
                r#"{"groups": ["a", 1]}"#,
                "context.groups[1]: expected a string",
            ),
            (
                r#"{"current_time": "yesterday"}"#,
                "context.current_time: `yesterday` is not an RFC 3339 time",
            ),
            (r#"{"userId": "u"}"#, "context: unknown key `userId`"),
            (
                r#"{"properties": {"a": [1]}}"#,
                "context.properties.a: expected a string, number or boolean",
            ),
        ];
        for (json, expected) in cases {
            let err = OwnedContext::from_json(json).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
            assert!(
                err.message().starts_with(expected),
                "{json}: {}",
                err.message()
            );
        }
    }
}
