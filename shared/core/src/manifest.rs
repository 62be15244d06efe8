//! The scan manifest (spec §3): parsing hostile JSON into a model, and resolving the requested profile into
//! the tools to run, their thresholds and the time each may take.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::policy::{Suppression, ThresholdScope};
use crate::request::is_safe_name;

/// Manifests larger than this are refused before parsing.
pub const MAX_MANIFEST_BYTES: usize = 1024 * 1024;
/// Per-tool timeout when the manifest sets no runtime ceiling.
pub const DEFAULT_TOOL_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const MAX_TOOLS_PER_PROFILE: usize = 64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub product: Option<String>,
    pub version: Option<String>,
    #[serde(default)]
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleSettings {
    pub runtime_ceiling_minutes: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub name: String,
    #[serde(default)]
    pub tools: Vec<ToolRef>,
    #[serde(default)]
    pub thresholds: Thresholds,
    pub requires_stack: Option<bool>,
    pub stack_base_url: Option<String>,
    /// `new`: with a baseline, thresholds count only findings the baseline does not have.
    #[serde(default)]
    pub threshold_scope: ThresholdScope,
}

/// A tool named by a string id or by an object with an id and tool-specific configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolRef {
    Id(String),
    Configured {
        id: String,
        #[serde(default)]
        config: Option<serde_json::Value>,
    },
}

impl ToolRef {
    pub fn id(&self) -> &str {
        match self {
            Self::Id(id) | Self::Configured { id, .. } => id,
        }
    }

    pub fn config(&self) -> Option<&serde_json::Value> {
        match self {
            Self::Id(_) => None,
            Self::Configured { config, .. } => config.as_ref(),
        }
    }
}

/// Maximum allowed finding counts per severity; an absent limit means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thresholds {
    pub critical: Option<u64>,
    pub high: Option<u64>,
    pub medium: Option<u64>,
    pub low: Option<u64>,
}

/// What the runtime takes from the manifest for one scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedProfile {
    pub requested: String,
    pub resolved: String,
    pub tools: Vec<SelectedTool>,
    pub unsupported_tools: Vec<String>,
    pub thresholds: Thresholds,
    pub threshold_scope: ThresholdScope,
    #[serde(with = "duration_secs")]
    pub tool_timeout: Duration,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectedTool {
    /// Canonical tool id (aliases such as `gitleaks` are mapped to the scanner that serves them).
    pub id: String,
    /// The id as the manifest wrote it.
    pub requested_as: String,
    pub config: Option<serde_json::Value>,
}

/// Built-in profiles, used when a profile lists no tool we support.
pub const BUILTIN_PROFILES: [(&str, &[&str]); 8] = [
    ("smoke", &["secrets"]),
    ("fast", &["secrets", "sbom"]),
    ("light", &["secrets", "sbom", "semgrep"]),
    (
        "full",
        &[
            "secrets",
            "sbom",
            "semgrep",
            "bandit",
            "checkov",
            "detect-secrets",
        ],
    ),
    ("standard", &["secrets", "sbom", "semgrep", "bandit"]),
    (
        "heavy",
        &[
            "secrets",
            "sbom",
            "semgrep",
            "bandit",
            "checkov",
            "detect-secrets",
        ],
    ),
    ("javascript", &["secrets", "sbom", "semgrep"]),
    ("sbom-only", &["sbom"]),
];

/// The scanner that serves tool ids the original service used.
pub fn canonical_tool_id(id: &str) -> String {
    let lower = id.to_ascii_lowercase();
    let canonical = match lower.as_str() {
        "gitleaks" | "secret-scan" => "secrets",
        "syft" | "trivy" | "cyclonedx" | "dependency-inventory" => "sbom",
        "opengrep" => "semgrep",
        other => other,
    };
    canonical.to_string()
}

impl Manifest {
    /// Parses manifest bytes, refusing oversized, non-UTF-8 and non-object input with a clear reason.
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
        // Parsed straight into the model so duplicate keys are refused rather than silently overwritten.
        serde_json::from_str(text).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Data => "manifest has an invalid field",
                _ => "manifest is not valid JSON",
            };
            CoreError::Manifest(format!("{what}: {e}"))
        })
    }

    /// Resolves `requested` (case-insensitively) into the tools to run; `supported` says which canonical ids
    /// have a scanner here.
    pub fn resolve_profile(
        &self,
        requested: &str,
        supported: &dyn Fn(&str) -> bool,
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
        if profile.tools.len() > MAX_TOOLS_PER_PROFILE {
            return Err(CoreError::Manifest(format!(
                "profile '{}' lists {} tools; the limit is {MAX_TOOLS_PER_PROFILE}",
                profile.name,
                profile.tools.len()
            )));
        }

        let mut tools = Vec::new();
        let mut unsupported = Vec::new();
        for tool in &profile.tools {
            let id = tool.id();
            if !is_safe_name(id) {
                return Err(CoreError::Manifest(format!(
                    "profile '{}' names an invalid tool id '{}': ids are 1-64 characters of letters, digits, '.', '_' or '-'",
                    profile.name,
                    id.chars().take(64).collect::<String>()
                )));
            }
            let canonical = canonical_tool_id(id);
            if tools.iter().any(|t: &SelectedTool| t.id == canonical) {
                continue;
            }
            if supported(&canonical) {
                tools.push(SelectedTool {
                    id: canonical,
                    requested_as: id.to_string(),
                    config: tool.config().cloned(),
                });
            } else {
                unsupported.push(id.to_string());
            }
        }

        let mut warnings = Vec::new();
        let mut resolved = profile.name.clone();
        if tools.is_empty() {
            let builtin = BUILTIN_PROFILES
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(&profile.name))
                .or_else(|| BUILTIN_PROFILES.iter().find(|(name, _)| *name == "light"));
            if let Some((name, ids)) = builtin {
                tools = ids
                    .iter()
                    .filter(|id| supported(id))
                    .map(|id| SelectedTool {
                        id: (*id).to_string(),
                        requested_as: (*id).to_string(),
                        config: None,
                    })
                    .collect();
                resolved = format!("builtin:{name}");
                warnings.push(format!(
                    "profile '{}' lists no supported tool; using the built-in '{name}' profile",
                    profile.name
                ));
            }
        }
        if !unsupported.is_empty() {
            warnings.push(format!(
                "unsupported tools skipped: {}",
                unsupported.join(", ")
            ));
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
            resolved,
            tools,
            unsupported_tools: unsupported,
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
    digest: &str,
) -> serde_json::Value {
    let tools: BTreeMap<&str, &str> = profile
        .tools
        .iter()
        .map(|t| (t.id.as_str(), t.requested_as.as_str()))
        .collect();
    serde_json::json!({
        "product": manifest.product,
        "version": manifest.version,
        "profile_requested": profile.requested,
        "profile_resolved": profile.resolved,
        "tools_selected": profile.tools.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        "tools_requested_as": tools,
        "unsupported_tools": profile.unsupported_tools,
        "thresholds": profile.thresholds,
        "threshold_scope": profile.threshold_scope,
        "suppressions": manifest.suppressions.len(),
        "tool_timeout_seconds": profile.tool_timeout.as_secs(),
        "manifest_digest": digest,
    })
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
            r#"{"product":"p","version":"1","profiles":[{"name":"Light","tools":["gitleaks",{"id":"sbom","config":{"x":1}}],
               "thresholds":{"critical":0,"high":2}}]}"#,
        );
        let r = m.resolve_profile("light", &all_supported).unwrap();
        assert_eq!(r.resolved, "Light");
        assert_eq!(r.tools.len(), 2);
        assert_eq!(r.tools[0].id, "secrets");
        assert_eq!(r.tools[0].requested_as, "gitleaks");
        assert_eq!(r.tools[1].config, Some(serde_json::json!({"x": 1})));
        assert_eq!(r.thresholds.critical, Some(0));
        assert_eq!(r.thresholds.medium, None);
        assert_eq!(r.tool_timeout, DEFAULT_TOOL_TIMEOUT);
    }

    #[test]
    fn missing_profiles_message() {
        let err = manifest(r#"{"product":"p"}"#)
            .resolve_profile("light", &all_supported)
            .unwrap_err();
        assert_eq!(err.to_string(), "manifest is missing 'profiles' entries");
    }

    #[test]
    fn unknown_profile_lists_available() {
        let m = manifest(r#"{"profiles":[{"name":"a"},{"name":"b"}]}"#);
        let err = m.resolve_profile("heavy", &all_supported).unwrap_err();
        assert_eq!(
            err.to_string(),
            "manifest profile 'heavy' not found. Available profiles: a, b"
        );
    }

    #[test]
    fn unsupported_tools_fall_back_to_builtin_profile() {
        let m = manifest(r#"{"profiles":[{"name":"smoke","tools":["zap-dast","privacy"]}]}"#);
        let r = m.resolve_profile("SMOKE", &all_supported).unwrap();
        assert_eq!(r.resolved, "builtin:smoke");
        assert_eq!(
            r.tools.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            vec!["secrets"]
        );
        assert_eq!(r.unsupported_tools, vec!["zap-dast", "privacy"]);
        assert_eq!(r.warnings.len(), 2);
    }

    #[test]
    fn unknown_profile_name_falls_back_to_light() {
        let m = manifest(r#"{"profiles":[{"name":"custom","tools":[]}]}"#);
        let r = m.resolve_profile("custom", &all_supported).unwrap();
        assert_eq!(r.resolved, "builtin:light");
        assert_eq!(
            r.tools.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            vec!["secrets", "sbom", "semgrep"]
        );
    }

    #[test]
    fn tool_ids_cannot_carry_arguments() {
        let m = manifest(r#"{"profiles":[{"name":"x","tools":["--config=/etc/passwd"]}]}"#);
        let err = m.resolve_profile("x", &all_supported).unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid tool id '--config=/etc/passwd'"),
            "{err}"
        );
        let m = manifest(r#"{"profiles":[{"name":"x","tools":["semgrep --help"]}]}"#);
        assert!(m.resolve_profile("x", &all_supported).is_err());
    }

    #[test]
    fn runtime_ceiling_becomes_tool_timeout() {
        let m = manifest(
            r#"{"bundle":{"runtimeCeilingMinutes":3},"profiles":[{"name":"x","tools":["secrets"]}]}"#,
        );
        assert_eq!(
            m.resolve_profile("x", &all_supported).unwrap().tool_timeout,
            Duration::from_secs(180)
        );
    }

    #[test]
    fn duplicate_tools_run_once() {
        let m = manifest(r#"{"profiles":[{"name":"x","tools":["secrets","gitleaks","SECRETS"]}]}"#);
        assert_eq!(
            m.resolve_profile("x", &all_supported).unwrap().tools.len(),
            1
        );
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
        let wrong = r#"{"profiles":[{"name":"a","thresholds":{"high":-1}}]}"#;
        assert!(Manifest::parse(wrong.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("invalid field"));
    }
}
