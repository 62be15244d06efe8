//! The manifest as a strict contract (docs/manifest.schema.json says the same in JSON Schema): a JSON reader
//! that refuses duplicate keys, and a checker that walks the document and names every problem by its JSON
//! pointer — unknown fields, unknown tool ids and severities (with the closest valid name), wrong types,
//! missing thresholds — before anything is taken from it.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::FieldError;

/// Canonical tool ids a manifest may name: the built-in scanners and the external tools we can run.
pub const KNOWN_TOOLS: [&str; 7] = [
    "secrets",
    "sbom",
    "semgrep",
    "bandit",
    "checkov",
    "detect-secrets",
    "sample",
];

/// Ids the original service used, and the scanner that serves each.
pub const TOOL_ALIASES: [(&str, &str); 7] = [
    ("gitleaks", "secrets"),
    ("secret-scan", "secrets"),
    ("syft", "sbom"),
    ("trivy", "sbom"),
    ("cyclonedx", "sbom"),
    ("dependency-inventory", "sbom"),
    ("opengrep", "semgrep"),
];

/// The severities thresholds may limit.
pub const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

const TOP_FIELDS: [&str; 12] = [
    "$schema",
    "product",
    "version",
    "profiles",
    "owners",
    "presets",
    "notify",
    "bundle",
    "compliance",
    "annotations",
    "suppressions",
    "appliesTo",
];
const APPLIES_TO_FIELDS: [&str; 5] = [
    "repositories",
    "components",
    "workspaces",
    "notAfter",
    "profiles",
];
const PROFILE_FIELDS: [&str; 6] = [
    "name",
    "tools",
    "thresholds",
    "thresholdScope",
    "requiresStack",
    "stackBaseUrl",
];
const TOOL_FIELDS: [&str; 3] = ["id", "config", "optional"];
const BUNDLE_FIELDS: [&str; 1] = ["runtimeCeilingMinutes"];
const SUPPRESSION_FIELDS: [&str; 6] = ["tool", "rule", "path", "fingerprint", "reason", "expires"];
const SBOM_CONFIG_FIELDS: [&str; 1] = ["advisories"];
/// Values of the sbom tool's `config.advisories`.
pub const ADVISORIES_REQUIRED: &str = "required";
pub const ADVISORIES_OFF: &str = "off";

pub const MAX_PROFILES: usize = 64;
pub const MAX_TOOLS_PER_PROFILE: usize = 64;
pub const MAX_SUPPRESSIONS: usize = 1000;
/// Longest per-tool runtime ceiling a manifest may ask for (a day).
pub const MAX_RUNTIME_CEILING_MINUTES: u64 = 24 * 60;

/// The scanner serving a manifest tool id, when the id is one we know (exact, lowercase).
pub fn canonical_tool(id: &str) -> Option<&'static str> {
    KNOWN_TOOLS
        .iter()
        .copied()
        .find(|known| *known == id)
        .or_else(|| {
            TOOL_ALIASES
                .iter()
                .find(|(alias, _)| *alias == id)
                .map(|(_, canonical)| *canonical)
        })
}

/// How to make a tool available on this machine, for the error that says it is missing.
pub fn install_hint(canonical: &str) -> String {
    match canonical {
        "semgrep" | "bandit" | "checkov" | "detect-secrets" => format!(
            "not installed: install it (`pip install {canonical}`, or scripts/install-tools.sh) and put it on \
             PATH or in CERTUS_ASSURANCE_TOOLS_BIN_DIR"
        ),
        "sample" => "the sample scanner is not offered by this deployment".into(),
        _ => "this deployment does not offer it".into(),
    }
}

/// Parses JSON text into a value, refusing a key that appears twice in one object (serde_json would keep
/// the last one silently, so a reviewer and the runtime could read different manifests).
pub fn strict_value(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str::<Strict>(text).map(|s| s.0)
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate field '{key}'")));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Every problem of the manifest document (unknown keys of an object first, then its fields in turn); empty
/// when it keeps the contract.
pub fn check(manifest: &Value) -> Vec<FieldError> {
    let mut checker = Checker::default();
    checker.manifest(manifest);
    checker.issues
}

/// The closest of `candidates` to `given` (edit distance, case-insensitive; a name cut short counts as close),
/// when it is close enough to be what was meant.
pub fn closest<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let given = given.to_ascii_lowercase();
    let allowed = (given.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| {
            let candidate = c.to_ascii_lowercase();
            let cut_short = given.len() >= 4 && candidate.starts_with(&given);
            let distance = if cut_short {
                1
            } else {
                edit_distance(&given, &candidate)
            };
            (distance, c)
        })
        .filter(|(d, _)| *d <= allowed)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// A JSON pointer (RFC 6901) segment.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn quoted(text: &str) -> String {
    let short: String = text.chars().take(64).collect();
    serde_json::to_string(&short).unwrap_or_default()
}

#[derive(Default)]
struct Checker {
    issues: Vec<FieldError>,
}

impl Checker {
    fn issue(&mut self, pointer: &str, message: impl Into<String>) {
        self.issues.push(FieldError::new(pointer, message));
    }

    fn wrong_type(&mut self, pointer: &str, expected: &str, value: &Value) {
        self.issue(
            pointer,
            format!("must be {expected}, not {}", type_name(value)),
        );
    }

    /// The object at `pointer`, with every key outside `allowed` reported (`what` names the kind of key).
    fn object<'v>(
        &mut self,
        pointer: &str,
        value: &'v Value,
        allowed: &[&str],
        what: &str,
    ) -> Option<&'v Map<String, Value>> {
        let Some(object) = value.as_object() else {
            self.wrong_type(pointer, "an object", value);
            return None;
        };
        for key in object.keys() {
            if !allowed.contains(&key.as_str()) {
                let message = match closest(key, allowed.iter().copied()) {
                    Some(near) => format!("unknown {what}; did you mean {}?", quoted(near)),
                    None if allowed.is_empty() => format!("unknown {what}: none are accepted here"),
                    None => format!("unknown {what} (allowed: {})", allowed.join(", ")),
                };
                self.issue(&format!("{pointer}/{}", escape(key)), message);
            }
        }
        Some(object)
    }

    fn string(&mut self, pointer: &str, value: &Value) -> Option<String> {
        match value.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.wrong_type(pointer, "a string", value);
                None
            }
        }
    }

    fn non_empty_string(&mut self, pointer: &str, value: &Value) -> Option<String> {
        let s = self.string(pointer, value)?;
        if s.trim().is_empty() {
            self.issue(pointer, "must not be empty");
            return None;
        }
        Some(s)
    }

    /// An entry of `appliesTo/profiles` must name one of the manifest's profiles (case-insensitively, as a
    /// profile is resolved): a misspelt name would otherwise permit nothing, or be read as permitting more.
    fn names_a_profile(&mut self, pointer: &str, name: &str, profiles: Option<&Value>) {
        let names: Vec<&str> = profiles
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|profile| profile.get("name").and_then(Value::as_str))
            .collect();
        if !names.iter().any(|known| known.eq_ignore_ascii_case(name)) {
            self.issue(
                pointer,
                format!(
                    "{} is not a profile of this manifest (profiles: {})",
                    quoted(name),
                    names.join(", ")
                ),
            );
        }
    }

    fn boolean(&mut self, pointer: &str, value: &Value) {
        if !value.is_boolean() {
            self.wrong_type(pointer, "true or false", value);
        }
    }

    fn count(&mut self, pointer: &str, value: &Value) -> Option<u64> {
        match value.as_u64() {
            Some(n) => Some(n),
            None => {
                let what = match value {
                    Value::Number(n) => format!("{n}"),
                    other => type_name(other).to_string(),
                };
                self.issue(
                    pointer,
                    format!("must be a non-negative integer (a count), not {what}"),
                );
                None
            }
        }
    }

    fn manifest(&mut self, value: &Value) {
        let Some(top) = self.object("", value, &TOP_FIELDS, "field") else {
            return;
        };
        for key in ["$schema", "product", "version"] {
            if let Some(v) = top.get(key) {
                self.string(&format!("/{}", escape(key)), v);
            }
        }
        match top.get("profiles") {
            None => self.issue("/profiles", "manifest is missing 'profiles' entries"),
            Some(profiles) => self.profiles(profiles),
        }
        if let Some(bundle) = top.get("bundle") {
            self.bundle(bundle);
        }
        if let Some(suppressions) = top.get("suppressions") {
            self.suppressions(suppressions);
        }
        if let Some(applies_to) = top.get("appliesTo") {
            self.applies_to(applies_to, top.get("profiles"));
        }
    }

    /// `appliesTo`; `profiles` is the manifest's own list, which `appliesTo/profiles` must name from.
    fn applies_to(&mut self, value: &Value, profiles: Option<&Value>) {
        let Some(fields) = self.object("/appliesTo", value, &APPLIES_TO_FIELDS, "field") else {
            return;
        };
        for key in ["repositories", "components", "workspaces", "profiles"] {
            let Some(list) = fields.get(key) else {
                continue;
            };
            let pointer = format!("/appliesTo/{key}");
            match list.as_array() {
                Some(items) if !items.is_empty() && items.len() <= 100 => {
                    for (index, item) in items.iter().enumerate() {
                        let item_pointer = format!("{pointer}/{index}");
                        let name = self.non_empty_string(&item_pointer, item);
                        if let (Some(name), "profiles") = (name, key) {
                            self.names_a_profile(&item_pointer, &name, profiles);
                        }
                    }
                }
                Some(_) => self.issue(&pointer, "must list 1 to 100 values"),
                None => self.wrong_type(&pointer, "an array of strings", list),
            }
        }
        if let Some(v) = fields.get("notAfter") {
            if let Some(text) = self.string("/appliesTo/notAfter", v) {
                if crate::applies_to::not_after_instant(&text).is_none() {
                    self.issue(
                        "/appliesTo/notAfter",
                        format!(
                            "{} is not a date (YYYY-MM-DD) or an RFC 3339 instant",
                            quoted(&text)
                        ),
                    );
                }
            }
        }
    }

    fn profiles(&mut self, value: &Value) {
        let Some(profiles) = value.as_array() else {
            self.wrong_type("/profiles", "an array of profiles", value);
            return;
        };
        if profiles.is_empty() {
            self.issue("/profiles", "manifest is missing 'profiles' entries");
        }
        if profiles.len() > MAX_PROFILES {
            self.issue(
                "/profiles",
                format!(
                    "lists {} profiles; the limit is {MAX_PROFILES}",
                    profiles.len()
                ),
            );
            return;
        }
        let mut names: Vec<String> = Vec::new();
        for (index, profile) in profiles.iter().enumerate() {
            let pointer = format!("/profiles/{index}");
            if let Some(name) = self.profile(&pointer, profile) {
                let lower = name.to_ascii_lowercase();
                if names.contains(&lower) {
                    self.issue(
                        &format!("{pointer}/name"),
                        format!(
                            "another profile is already named {} (names are matched case-insensitively)",
                            quoted(&name)
                        ),
                    );
                }
                names.push(lower);
            }
        }
    }

    /// Checks one profile and returns its name when it has a valid one.
    fn profile(&mut self, pointer: &str, value: &Value) -> Option<String> {
        let profile = self.object(pointer, value, &PROFILE_FIELDS, "field")?;
        let name = match profile.get("name") {
            None => {
                self.issue(&format!("{pointer}/name"), "required: every profile has a name");
                None
            }
            Some(v) => self.string(&format!("{pointer}/name"), v).and_then(|name| {
                if crate::request::is_safe_name(&name) {
                    Some(name)
                } else {
                    self.issue(
                        &format!("{pointer}/name"),
                        "must be 1-64 characters of letters, digits, '.', '_' or '-', not starting with '-'",
                    );
                    None
                }
            }),
        };
        match profile.get("tools") {
            None => self.issue(
                &format!("{pointer}/tools"),
                "required: list the tools this profile runs",
            ),
            Some(tools) => self.tools(&format!("{pointer}/tools"), tools),
        }
        match profile.get("thresholds") {
            None => self.issue(
                &format!("{pointer}/thresholds"),
                "required: state the limits (e.g. {\"critical\": 0, \"high\": 0}), or write {} or \"none\" \
                 for a profile without a gate",
            ),
            Some(thresholds) => self.thresholds(&format!("{pointer}/thresholds"), thresholds),
        }
        if let Some(scope) = profile.get("thresholdScope") {
            let pointer = format!("{pointer}/thresholdScope");
            if let Some(s) = self.string(&pointer, scope) {
                if s != "all" && s != "new" {
                    let hint = closest(&s, ["all", "new"])
                        .map(|near| format!("; did you mean {}?", quoted(near)))
                        .unwrap_or_default();
                    self.issue(
                        &pointer,
                        format!("must be \"all\" or \"new\", not {}{hint}", quoted(&s)),
                    );
                }
            }
        }
        if let Some(v) = profile.get("requiresStack") {
            self.boolean(&format!("{pointer}/requiresStack"), v);
        }
        if let Some(v) = profile.get("stackBaseUrl") {
            self.string(&format!("{pointer}/stackBaseUrl"), v);
        }
        name
    }

    fn tools(&mut self, pointer: &str, value: &Value) {
        let Some(tools) = value.as_array() else {
            self.wrong_type(pointer, "an array of tool ids or tool objects", value);
            return;
        };
        if tools.is_empty() {
            self.issue(pointer, "must name at least one tool");
        }
        if tools.len() > MAX_TOOLS_PER_PROFILE {
            self.issue(
                pointer,
                format!(
                    "lists {} tools; the limit is {MAX_TOOLS_PER_PROFILE}",
                    tools.len()
                ),
            );
            return;
        }
        let mut seen: Vec<(&'static str, String)> = Vec::new();
        for (index, tool) in tools.iter().enumerate() {
            let item = format!("{pointer}/{index}");
            let (id_pointer, id_value, config) = match tool {
                Value::String(_) => (item.clone(), tool, None),
                Value::Object(_) => {
                    let Some(object) = self.object(&item, tool, &TOOL_FIELDS, "tool field") else {
                        continue;
                    };
                    if let Some(optional) = object.get("optional") {
                        self.boolean(&format!("{item}/optional"), optional);
                    }
                    match object.get("id") {
                        None => {
                            self.issue(&format!("{item}/id"), "required: the tool's id");
                            continue;
                        }
                        Some(id) => (format!("{item}/id"), id, object.get("config")),
                    }
                }
                other => {
                    self.wrong_type(&item, "a tool id or a tool object ({\"id\": …})", other);
                    continue;
                }
            };
            let Some(canonical) = self.tool_id(&id_pointer, id_value) else {
                continue;
            };
            if let Some(config) = config {
                self.tool_config(&format!("{item}/config"), canonical, config);
            }
            if let Some((_, first)) = seen.iter().find(|(c, _)| *c == canonical) {
                self.issue(
                    &id_pointer,
                    format!("runs the same scanner ({canonical}) as {first}: name each tool once"),
                );
            } else {
                seen.push((canonical, id_pointer));
            }
        }
    }

    /// The canonical id of a valid tool id.
    fn tool_id(&mut self, pointer: &str, value: &Value) -> Option<&'static str> {
        let id = self.string(pointer, value)?;
        if let Some(canonical) = canonical_tool(&id) {
            return Some(canonical);
        }
        let names = KNOWN_TOOLS
            .iter()
            .copied()
            .chain(TOOL_ALIASES.iter().map(|(alias, _)| *alias));
        let message = match closest(&id, names) {
            Some(near) => format!(
                "unknown tool id {}; did you mean {}?",
                quoted(&id),
                quoted(near)
            ),
            None => format!(
                "unknown tool id {} (known: {}; aliases: {})",
                quoted(&id),
                KNOWN_TOOLS.join(", "),
                TOOL_ALIASES
                    .iter()
                    .map(|(alias, canonical)| format!("{alias} = {canonical}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.issue(pointer, message);
        None
    }

    fn tool_config(&mut self, pointer: &str, canonical: &str, value: &Value) {
        let allowed: &[&str] = match canonical {
            "sbom" => &SBOM_CONFIG_FIELDS,
            _ => &[],
        };
        let what = format!("{canonical} setting");
        let Some(config) = self.object(pointer, value, allowed, &what) else {
            return;
        };
        if let Some(advisories) = config.get("advisories") {
            let pointer = format!("{pointer}/advisories");
            if let Some(s) = self.string(&pointer, advisories) {
                if s != ADVISORIES_REQUIRED && s != ADVISORIES_OFF {
                    self.issue(
                        &pointer,
                        format!(
                            "must be \"{ADVISORIES_REQUIRED}\" (match an advisory database; the default) or \
                             \"{ADVISORIES_OFF}\" (inventory only), not {}",
                            quoted(&s)
                        ),
                    );
                }
            }
        }
    }

    fn thresholds(&mut self, pointer: &str, value: &Value) {
        if let Some(s) = value.as_str() {
            if s != "none" {
                self.issue(
                    pointer,
                    format!(
                        "must be an object of limits or the string \"none\", not {}",
                        quoted(s)
                    ),
                );
            }
            return;
        }
        let Some(limits) = self.object(pointer, value, &SEVERITIES, "severity") else {
            return;
        };
        for severity in SEVERITIES {
            if let Some(limit) = limits.get(severity) {
                self.count(&format!("{pointer}/{severity}"), limit);
            }
        }
    }

    fn bundle(&mut self, value: &Value) {
        let Some(bundle) = self.object("/bundle", value, &BUNDLE_FIELDS, "field") else {
            return;
        };
        if let Some(ceiling) = bundle.get("runtimeCeilingMinutes") {
            let pointer = "/bundle/runtimeCeilingMinutes";
            if let Some(minutes) = self.count(pointer, ceiling) {
                if !(1..=MAX_RUNTIME_CEILING_MINUTES).contains(&minutes) {
                    self.issue(
                        pointer,
                        format!("must be from 1 to {MAX_RUNTIME_CEILING_MINUTES} minutes, not {minutes}"),
                    );
                }
            }
        }
    }

    fn suppressions(&mut self, value: &Value) {
        let Some(items) = value.as_array() else {
            self.wrong_type("/suppressions", "an array", value);
            return;
        };
        if items.len() > MAX_SUPPRESSIONS {
            self.issue(
                "/suppressions",
                format!(
                    "lists {} suppressions; the limit is {MAX_SUPPRESSIONS}",
                    items.len()
                ),
            );
            return;
        }
        for (index, item) in items.iter().enumerate() {
            let pointer = format!("/suppressions/{index}");
            let Some(s) = self.object(&pointer, item, &SUPPRESSION_FIELDS, "field") else {
                continue;
            };
            if let Some(tool) = s.get("tool") {
                self.tool_id(&format!("{pointer}/tool"), tool);
            }
            for key in ["rule", "path", "fingerprint"] {
                if let Some(v) = s.get(key) {
                    self.non_empty_string(&format!("{pointer}/{key}"), v);
                }
            }
            if !["rule", "path", "fingerprint"]
                .iter()
                .any(|k| s.contains_key(*k))
            {
                self.issue(&pointer, "must name a rule, a path or a fingerprint");
            }
            match s.get("reason") {
                None => self.issue(
                    &format!("{pointer}/reason"),
                    "required: say why the risk is accepted",
                ),
                Some(v) => {
                    self.non_empty_string(&format!("{pointer}/reason"), v);
                }
            }
            if let Some(v) = s.get("expires") {
                let pointer = format!("{pointer}/expires");
                if let Some(date) = self.string(&pointer, v) {
                    if chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").is_err()
                        || date.len() != 10
                    {
                        self.issue(
                            &pointer,
                            format!("{} is not a date (YYYY-MM-DD)", quoted(&date)),
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issues(value: Value) -> Vec<String> {
        check(&value).iter().map(ToString::to_string).collect()
    }

    fn valid_profile() -> Value {
        json!({"name": "p", "tools": ["secrets"], "thresholds": {"critical": 0}})
    }

    #[test]
    fn applies_to_is_checked_by_pointer() {
        let with = |applies_to: Value| {
            issues(json!({"profiles": [valid_profile()], "appliesTo": applies_to}))
        };
        assert_eq!(
            with(
                json!({"repositories": ["github.com/acme/*"], "components": ["payments"],
                        "workspaces": ["ws-acme"], "notAfter": "2030-01-31"})
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            with(
                json!({"repositores": ["x"], "components": [], "workspaces": "ws",
                        "notAfter": "soon"})
            ),
            vec![
                "/appliesTo/repositores: unknown field; did you mean \"repositories\"?",
                "/appliesTo/components: must list 1 to 100 values",
                "/appliesTo/workspaces: must be an array of strings, not a string",
                "/appliesTo/notAfter: \"soon\" is not a date (YYYY-MM-DD) or an RFC 3339 instant",
            ]
        );
    }

    #[test]
    fn applies_to_profiles_must_name_the_manifests_own_profiles() {
        let with = |applies_to: Value| {
            let strict =
                json!({"name": "Strict", "tools": ["secrets"], "thresholds": {"critical": 0}});
            issues(json!({"profiles": [valid_profile(), strict], "appliesTo": applies_to}))
        };
        assert_eq!(
            with(json!({"profiles": ["strict", "P"]})),
            Vec::<String>::new()
        );
        assert_eq!(
            with(json!({"profiles": ["strict", "lenient", "", 7]})),
            vec![
                "/appliesTo/profiles/1: \"lenient\" is not a profile of this manifest (profiles: p, Strict)",
                "/appliesTo/profiles/2: must not be empty",
                "/appliesTo/profiles/3: must be a string, not a number",
            ]
        );
        assert_eq!(
            with(json!({"profiles": []})),
            vec!["/appliesTo/profiles: must list 1 to 100 values"]
        );
        assert_eq!(
            with(json!({"profiles": "strict"})),
            vec!["/appliesTo/profiles: must be an array of strings, not a string"]
        );
        assert_eq!(
            with(json!({"profile": ["strict"]})),
            vec!["/appliesTo/profile: unknown field; did you mean \"profiles\"?"]
        );
    }

    #[test]
    fn suggestions_are_close_names_only() {
        assert_eq!(closest("secret", KNOWN_TOOLS), Some("secrets"));
        assert_eq!(closest("critcal", SEVERITIES), Some("critical"));
        assert_eq!(closest("tresholds", PROFILE_FIELDS), Some("thresholds"));
        assert_eq!(closest("SEMGREP", KNOWN_TOOLS), Some("semgrep"));
        assert_eq!(closest("zap-dast", KNOWN_TOOLS), None);
        assert_eq!(
            closest("runtimeCeiling", BUNDLE_FIELDS),
            Some("runtimeCeilingMinutes")
        );
        assert_eq!(closest("sec", KNOWN_TOOLS), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn a_valid_manifest_has_no_issue() {
        let manifest = json!({
            "$schema": "https://example.invalid/manifest.schema.json",
            "product": "p", "version": "1", "owners": [{"team": "t"}], "presets": {}, "notify": ["x"],
            "compliance": {"soc2": true}, "annotations": {"a": "b"},
            "bundle": {"runtimeCeilingMinutes": 30},
            "profiles": [
                valid_profile(),
                {"name": "q", "tools": ["gitleaks", {"id": "sbom", "config": {"advisories": "off"}},
                                        {"id": "semgrep", "optional": true}],
                 "thresholds": "none", "thresholdScope": "new", "requiresStack": false,
                 "stackBaseUrl": "https://stack.example.invalid"},
                {"name": "r", "tools": ["sample"], "thresholds": {}}
            ],
            "suppressions": [{"tool": "secrets", "rule": "r", "reason": "ok", "expires": "2030-01-31"}]
        });
        assert_eq!(issues(manifest), Vec::<String>::new());
    }

    /// The table of refusals docs/manifest.schema.json is also tested against (tests/manifest_schema.rs).
    #[test]
    fn each_mistake_is_named_by_its_pointer() {
        let cases: Vec<Value> =
            serde_json::from_str(include_str!("../tests/fixtures/manifest-refusals.json")).unwrap();
        assert!(cases.len() > 30);
        for case in cases {
            let expected = case["error"].as_str().unwrap();
            let found = issues(case["manifest"].clone());
            assert!(
                found.iter().any(|i| i.starts_with(expected)),
                "{}: expected {expected:?}, found {found:?}",
                case["name"]
            );
        }
    }

    #[test]
    fn pointers_escape_slash_and_tilde() {
        let found = issues(json!({"profiles": [valid_profile()], "a/b~c": 1}));
        assert_eq!(found, vec!["/a~1b~0c: unknown field (allowed: $schema, product, version, profiles, owners, presets, notify, bundle, compliance, annotations, suppressions, appliesTo)"]);
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(strict_value(r#"{"a": 1, "b": [{"c": 1, "c": 2}]}"#)
            .unwrap_err()
            .to_string()
            .contains("duplicate field 'c'"));
        assert_eq!(
            strict_value(r#"{"a": [1, -2, 3.5, "x", null, true]}"#).unwrap(),
            json!({"a": [1, -2, 3.5, "x", null, true]})
        );
    }
}
