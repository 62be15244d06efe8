//! Lockfile kinds: recognising them by file name, and one parser module per format.

pub mod cargo;
pub mod golang;
pub mod npm;
pub mod poetry;
pub mod requirements;

/// Largest `package-lock.json` read (big monorepos reach tens of MiB).
pub const NPM_LIMIT: u64 = 64 * 1024 * 1024;
/// Largest lockfile of any other kind read.
pub const LOCKFILE_LIMIT: u64 = 16 * 1024 * 1024;
/// Largest auxiliary manifest (`pyproject.toml`) read.
pub const MANIFEST_LIMIT: u64 = 1024 * 1024;

/// The lockfile formats the inventory understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockfileKind {
    CargoLock,
    NpmLock,
    Requirements,
    PoetryLock,
    GoMod,
    GoSum,
}

impl LockfileKind {
    /// Recognises a lockfile from its file name and the name of its parent directory (asked for only when
    /// the file name alone does not decide: most files are told apart by name).
    pub fn detect<'a>(file_name: &str, parent_dir: impl FnOnce() -> &'a str) -> Option<Self> {
        match file_name {
            "Cargo.lock" => Some(LockfileKind::CargoLock),
            "package-lock.json" | "npm-shrinkwrap.json" => Some(LockfileKind::NpmLock),
            "poetry.lock" => Some(LockfileKind::PoetryLock),
            "go.mod" => Some(LockfileKind::GoMod),
            "go.sum" => Some(LockfileKind::GoSum),
            name if name.ends_with(".txt")
                && (name.starts_with("requirements") || parent_dir() == "requirements") =>
            {
                Some(LockfileKind::Requirements)
            }
            _ => None,
        }
    }

    /// The size cap for this kind.
    pub fn size_limit(self) -> u64 {
        match self {
            LockfileKind::NpmLock => NPM_LIMIT,
            _ => LOCKFILE_LIMIT,
        }
    }

    /// Name used in error messages.
    pub fn format_name(self) -> &'static str {
        match self {
            LockfileKind::CargoLock => "Cargo.lock",
            LockfileKind::NpmLock => "package-lock.json",
            LockfileKind::Requirements => "requirements file",
            LockfileKind::PoetryLock => "poetry.lock",
            LockfileKind::GoMod => "go.mod",
            LockfileKind::GoSum => "go.sum",
        }
    }
}
