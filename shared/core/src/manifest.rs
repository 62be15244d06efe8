//! The scan manifest (spec §3): parsing hostile JSON into a model, and resolving the requested profile into
//! the tools to run, their thresholds and the time each may take.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::digest::Sha256Digest;
use crate::error::{CoreError, Result};
use crate::manifest_check::{self, canonical_tool, install_hint, ADVISORIES_OFF};
use crate::policy::{Suppression, ThresholdScope};
use crate::record::ManifestMetadata;

/// Manifests larger than this are refused before parsing.
pub const MAX_MANIFEST_BYTES: usize = 1024 * 1024;
/// Per-tool timeout when the manifest sets no runtime ceiling.
pub const DEFAULT_TOOL_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// The schema an editor may validate against; not interpreted.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    pub profiles: Vec<Profile>,
    pub owners: Option<serde_json::Value>,
    pub presets: Option<serde_json::Value>,
    pub notify: Option<serde_json::Value>,
    pub bundle: Option<BundleSettings>,
    pub compliance: Option<serde_json::Value>,
    pub annotations: Option<serde_json::Value>,
    /// Accepted risks: matching findings are marked suppressed and not counted, until they expire.
    #[serde(default)]
    pub suppressions: Vec<Suppression>,
    /// What the manifest may be used for (repositories, components, workspaces, `notAfter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies_to: Option<crate::applies_to::AppliesTo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleSettings {
    pub runtime_ceiling_minutes: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub tools: Vec<ToolRef>,
    /// Always written out in the manifest: limits, or `{}` / `"none"` for no gate.
    #[serde(deserialize_with = "thresholds_or_none")]
    pub thresholds: Thresholds,
    pub requires_stack: Option<bool>,
    pub stack_base_url: Option<String>,
    /// `new`: with a baseline, thresholds count only findings the baseline does not have.
    #[serde(default)]
    pub threshold_scope: ThresholdScope,
}

/// A tool named by a string id or by an object with an id, tool-specific configuration and whether the scan
/// may go on without it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolRef {
    Id(String),
    Configured(ToolObject),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolObject {
    pub id: String,
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    /// When the tool cannot run here, the scan goes on and says "not run" for it instead of failing.
    #[serde(default)]
    pub optional: bool,
}

impl ToolRef {
    pub fn id(&self) -> &str {
        match self {
            Self::Id(id) | Self::Configured(ToolObject { id, .. }) => id,
        }
    }

    pub fn config(&self) -> Option<&serde_json::Value> {
        match self {
            Self::Id(_) => None,
            Self::Configured(tool) => tool.config.as_ref(),
        }
    }

    pub fn optional(&self) -> bool {
        matches!(self, Self::Configured(ToolObject { optional: true, .. }))
    }
}

/// Maximum allowed finding counts per severity; an absent limit means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub critical: Option<u64>,
    pub high: Option<u64>,
    pub medium: Option<u64>,
    pub low: Option<u64>,
}

impl Thresholds {
    /// Whether any severity is limited; without a limit the profile has no gate.
    pub fn is_gate(&self) -> bool {
        [self.critical, self.high, self.medium, self.low]
            .iter()
            .any(Option::is_some)
    }

    /// `critical 0 · high 2` or `no gate`.
    pub fn describe(&self) -> String {
        if !self.is_gate() {
            return "no gate".into();
        }
        let limits: Vec<String> = [
            ("critical", self.critical),
            ("high", self.high),
            ("medium", self.medium),
            ("low", self.low),
        ]
        .iter()
        .filter_map(|(name, limit)| limit.map(|l| format!("{name} {l}")))
        .collect();
        limits.join(" · ")
    }
}

fn thresholds_or_none<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Thresholds, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) if s == "none" => Ok(Thresholds::default()),
        other => serde_json::from_value(other).map_err(serde::de::Error::custom),
    }
}

/// What the runtime takes from the manifest for one scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedProfile {
    pub requested: String,
    pub resolved: String,
    pub tools: Vec<SelectedTool>,
    /// Ids (as written) of the optional tools that will not run.
    pub unsupported_tools: Vec<String>,
    /// The optional tools that will not run, and why.
    #[serde(default)]
    pub not_run: Vec<NotRunTool>,
    pub thresholds: Thresholds,
    pub threshold_scope: ThresholdScope,
    #[serde(with = "duration_secs")]
    pub tool_timeout: Duration,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotRunTool {
    /// Canonical id.
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectedTool {
    /// Canonical tool id (aliases such as `gitleaks` are mapped to the scanner that serves them).
    pub id: String,
    /// The id as the manifest wrote it.
    pub requested_as: String,
    pub config: Option<serde_json::Value>,
}

/// Whether the sbom tool's configuration turns advisory matching off.
pub fn advisories_off(config: Option<&serde_json::Value>) -> bool {
    config
        .and_then(|c| c.get("advisories"))
        .and_then(|a| a.as_str())
        == Some(ADVISORIES_OFF)
}

impl Manifest {
    /// Parses manifest bytes as the strict contract of docs/manifest.schema.json: oversized, non-UTF-8,
    /// non-object and duplicate-key input is refused, and so is every unknown field, tool id or severity,
    /// wrong type and missing threshold — all of them at once, each named by its JSON pointer.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(CoreError::Manifest(format!(
                "manifest is {} bytes; the limit is {MAX_MANIFEST_BYTES}",
                bytes.len()
            )));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|e| CoreError::Manifest(format!("manifest is not UTF-8: {e}")))?;
        if !text.trim_start().starts_with('{') {
            return Err(CoreError::Manifest("manifest must be a JSON object".into()));
        }
        let value = manifest_check::strict_value(text)
            .map_err(|e| CoreError::Manifest(format!("manifest is not valid JSON: {e}")))?;
        let issues = manifest_check::check(&value);
        if !issues.is_empty() {
            return Err(CoreError::ManifestInvalid(issues));
        }
        serde_json::from_value(value)
            .map_err(|e| CoreError::Manifest(format!("manifest has an invalid field: {e}")))
    }

    /// Resolves `requested` (case-insensitively) into the tools to run; `available` says which canonical ids
    /// can run in this deployment. A tool that cannot run fails the resolution with its name and how to
    /// install it, unless the manifest marks it optional; nothing is ever swapped for another tool.
    pub fn resolve_profile(
        &self,
        requested: &str,
        available: &dyn Fn(&str) -> bool,
    ) -> Result<ResolvedProfile> {
        if self.profiles.is_empty() {
            return Err(CoreError::Manifest(
                "manifest is missing 'profiles' entries".into(),
            ));
        }
        let profile = self
            .profiles
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(requested))
            .ok_or_else(|| {
                let names: Vec<&str> = self.profiles.iter().map(|p| p.name.as_str()).collect();
                CoreError::Manifest(format!(
                    "manifest profile '{requested}' not found. Available profiles: {}",
                    names.join(", ")
                ))
            })?;

        let mut tools: Vec<SelectedTool> = Vec::new();
        let mut not_run: Vec<NotRunTool> = Vec::new();
        let mut unsupported = Vec::new();
        let mut missing = Vec::new();
        let mut warnings = Vec::new();
        for tool in &profile.tools {
            let id = tool.id();
            let canonical = canonical_tool(id).ok_or_else(|| {
                CoreError::Manifest(format!(
                    "profile '{}' names an unknown tool id '{}'",
                    profile.name,
                    id.chars().take(64).collect::<String>()
                ))
            })?;
            if tools.iter().any(|t| t.id == canonical) || not_run.iter().any(|t| t.id == canonical)
            {
                continue;
            }
            if available(canonical) {
                if canonical == "sbom" && advisories_off(tool.config()) {
                    warnings.push(
                        "sbom: advisory matching is off in the manifest: dependency vulnerabilities are \
                         not checked"
                            .to_string(),
                    );
                }
                tools.push(SelectedTool {
                    id: canonical.to_string(),
                    requested_as: id.to_string(),
                    config: tool.config().cloned(),
                });
            } else if tool.optional() {
                let reason = install_hint(canonical);
                warnings.push(format!("optional tool '{id}' not run: {reason}"));
                unsupported.push(id.to_string());
                not_run.push(NotRunTool {
                    id: canonical.to_string(),
                    reason,
                });
            } else {
                missing.push(format!("{id} ({})", install_hint(canonical)));
            }
        }
        if !missing.is_empty() {
            return Err(CoreError::Manifest(format!(
                "profile '{}' names tools that cannot run here: {}. Mark a tool {{\"id\": …, \"optional\": true}} \
                 in the manifest to let scans go on without it",
                profile.name,
                missing.join("; ")
            )));
        }
        if tools.is_empty() {
            return Err(CoreError::Manifest(format!(
                "profile '{}' has no tool that can run here: {}",
                profile.name,
                not_run
                    .iter()
                    .map(|t| format!("{} ({})", t.id, t.reason))
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }

        let tool_timeout = self
            .bundle
            .as_ref()
            .and_then(|b| b.runtime_ceiling_minutes)
            .filter(|m| *m > 0)
            .map(|m| Duration::from_secs(u64::from(m.min(24 * 60)) * 60))
            .unwrap_or(DEFAULT_TOOL_TIMEOUT);

        Ok(ResolvedProfile {
            requested: requested.to_string(),
            resolved: profile.name.clone(),
            tools,
            unsupported_tools: unsupported,
            not_run,
            thresholds: profile.thresholds,
            threshold_scope: profile.threshold_scope,
            tool_timeout,
            warnings,
        })
    }
}

mod duration_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

/// `manifest-info.json` contents: what was asked, what was resolved and what will run.
pub fn manifest_info(
    manifest: &Manifest,
    profile: &ResolvedProfile,
    digest: Sha256Digest,
) -> ManifestMetadata {
    ManifestMetadata {
        gate: Some(profile.thresholds.describe()),
        manifest_digest: digest,
        product: manifest.product.clone(),
        profile_requested: profile.requested.clone(),
        profile_resolved: profile.resolved.clone(),
        suppressions: Some(manifest.suppressions.len()),
        threshold_scope: Some(profile.threshold_scope),
        thresholds: profile.thresholds,
        tool_timeout_seconds: profile.tool_timeout.as_secs(),
        tools_not_run: Some(profile.not_run.clone()),
        tools_requested_as: profile
            .tools
            .iter()
            .map(|t| (t.id.clone(), t.requested_as.clone()))
            .collect(),
        tools_selected: profile.tools.iter().map(|t| t.id.clone()).collect(),
        unsupported_tools: profile.unsupported_tools.clone(),
        version: manifest.version.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_supported(id: &str) -> bool {
        ["secrets", "sbom", "semgrep", "sample"].contains(&id)
    }

    fn manifest(json: &str) -> Manifest {
        Manifest::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn tools_as_strings_and_objects() {
        let m = manifest(
            r#"{"product":"p","version":"1","profiles":[{"name":"Light","tools":["gitleaks",{"id":"sbom","config":{"advisories":"off"}}],
               "thresholds":{"critical":0,"high":2}}]}"#,
        );
        let r = m.resolve_profile("light", &all_supported).unwrap();
        assert_eq!(r.resolved, "Light");
        assert_eq!(r.tools.len(), 2);
        assert_eq!(r.tools[0].id, "secrets");
        assert_eq!(r.tools[0].requested_as, "gitleaks");
        assert_eq!(
            r.tools[1].config,
            Some(serde_json::json!({"advisories": "off"}))
        );
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains("dependency vulnerabilities are not checked")),
            "{:?}",
            r.warnings
        );
        assert_eq!(r.thresholds.critical, Some(0));
        assert_eq!(r.thresholds.medium, None);
        assert_eq!(r.thresholds.describe(), "critical 0 · high 2");
        assert_eq!(r.tool_timeout, DEFAULT_TOOL_TIMEOUT);
    }

    #[test]
    fn missing_profiles_message() {
        let err = Manifest::parse(br#"{"product":"p"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "manifest is invalid: /profiles: manifest is missing 'profiles' entries"
        );
    }

    #[test]
    fn unknown_profile_lists_available() {
        let m = manifest(
            r#"{"profiles":[{"name":"a","tools":["sbom"],"thresholds":{}},{"name":"b","tools":["sbom"],"thresholds":"none"}]}"#,
        );
        let err = m.resolve_profile("heavy", &all_supported).unwrap_err();
        assert_eq!(
            err.to_string(),
            "manifest profile 'heavy' not found. Available profiles: a, b"
        );
    }

    #[test]
    fn thresholds_none_and_empty_mean_no_gate() {
        for thresholds in [r#""none""#, "{}"] {
            let m = manifest(&format!(
                r#"{{"profiles":[{{"name":"x","tools":["sbom"],"thresholds":{thresholds}}}]}}"#
            ));
            let r = m.resolve_profile("x", &all_supported).unwrap();
            assert!(!r.thresholds.is_gate());
            assert_eq!(r.thresholds.describe(), "no gate");
        }
    }

    #[test]
    fn a_tool_that_cannot_run_fails_the_profile_with_how_to_install_it() {
        let m = manifest(
            r#"{"profiles":[{"name":"x","tools":["secrets","bandit","checkov"],"thresholds":{}}]}"#,
        );
        let err = m
            .resolve_profile("x", &all_supported)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bandit (not installed: install it (`pip install bandit`")
                && err.contains("checkov (")
                && err.contains("CERTUS_ASSURANCE_TOOLS_BIN_DIR")
                && err.contains("\"optional\": true"),
            "{err}"
        );
    }

    #[test]
    fn an_optional_tool_that_cannot_run_is_recorded_as_not_run() {
        let m = manifest(
            r#"{"profiles":[{"name":"x","tools":["secrets",{"id":"bandit","optional":true}],"thresholds":{"high":0}}]}"#,
        );
        let r = m.resolve_profile("x", &all_supported).unwrap();
        assert_eq!(
            r.tools.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            vec!["secrets"]
        );
        assert_eq!(r.not_run.len(), 1);
        assert_eq!(r.not_run[0].id, "bandit");
        assert_eq!(r.unsupported_tools, vec!["bandit"]);
        assert!(r.warnings[0].starts_with("optional tool 'bandit' not run: not installed"));
        let info = manifest_info(&m, &r, crate::digest::Sha256Digest::of(b"m"));
        assert_eq!(info.tools_not_run.unwrap()[0].id, "bandit");
        assert_eq!(info.gate.as_deref(), Some("high 0"));
    }

    #[test]
    fn a_profile_whose_tools_all_cannot_run_is_never_swapped() {
        let m = manifest(
            r#"{"profiles":[{"name":"smoke","tools":[{"id":"bandit","optional":true}],"thresholds":{}}]}"#,
        );
        let err = m
            .resolve_profile("SMOKE", &all_supported)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("profile 'smoke' has no tool that can run here: bandit"),
            "{err}"
        );
    }

    #[test]
    fn tool_ids_cannot_carry_arguments() {
        for id in ["--config=/etc/passwd", "semgrep --help"] {
            let text =
                serde_json::json!({"profiles": [{"name": "x", "tools": [id], "thresholds": {}}]})
                    .to_string();
            let err = Manifest::parse(text.as_bytes()).unwrap_err().to_string();
            assert!(
                err.contains("/profiles/0/tools/0: unknown tool id"),
                "{err}"
            );
        }
    }

    #[test]
    fn runtime_ceiling_becomes_tool_timeout() {
        let m = manifest(
            r#"{"bundle":{"runtimeCeilingMinutes":3},"profiles":[{"name":"x","tools":["secrets"],"thresholds":{}}]}"#,
        );
        assert_eq!(
            m.resolve_profile("x", &all_supported).unwrap().tool_timeout,
            Duration::from_secs(180)
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = Manifest::parse(
            br#"{"profiles":[{"name":"x","tools":["secret"],"tresholds":{}}],"extra":1}"#,
        )
        .unwrap_err();
        let CoreError::ManifestInvalid(issues) = &err else {
            panic!("{err}");
        };
        let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "/extra",
                "/profiles/0/tresholds",
                "/profiles/0/tools/0",
                "/profiles/0/thresholds"
            ]
        );
        assert!(err
            .to_string()
            .starts_with("manifest is invalid (4 problems):\n"));
    }

    #[test]
    fn hostile_manifests_are_refused_clearly() {
        let big = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert!(Manifest::parse(&big)
            .unwrap_err()
            .to_string()
            .contains("limit"));
        assert!(Manifest::parse(&[0xff, 0xfe])
            .unwrap_err()
            .to_string()
            .contains("not UTF-8"));
        assert!(Manifest::parse(b"[1]")
            .unwrap_err()
            .to_string()
            .contains("JSON object"));
        let deep = format!(
            "{{\"annotations\":{}{}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(Manifest::parse(deep.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("not valid JSON"));
        let dup = r#"{"profiles":[{"name":"a","name":"b"}]}"#;
        assert!(Manifest::parse(dup.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("duplicate field"));
        let wrong = r#"{"profiles":[{"name":"a","tools":["sbom"],"thresholds":{"high":-1}}]}"#;
        assert!(Manifest::parse(wrong.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("/profiles/0/thresholds/high: must be a non-negative integer"));
    }
}
