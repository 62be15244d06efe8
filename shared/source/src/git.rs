//! Git sources through the `git` command: fetch exactly the requested branch or commit, check it out detached
//! into a tree that holds the commit's files and nothing else (the repository's own files live beside it, not
//! in it) and record the resolved SHA. Hostile-input rules: no shell, `--` before
//! the URL, no remote helpers or `ext::`, no hooks, no system or global config, no prompts, a timeout, a
//! stalled transfer aborted, and remotes held to the outbound-address policy (`crate::remote`). A CodeCommit
//! remote gets credentials derived from the caller's AWS credentials ([`crate::codecommit`]); a private
//! repository gets those its submission names by reference (`crate::credentials`). Either way they reach only
//! the git processes of that fetch, through a credential helper scoped to the remote's own host.

use std::path::{Path, PathBuf};
use std::time::Duration;

use certus_core::error::{CoreError, Result};
use certus_core::request::GIT_CREDENTIALS_REF;
use rustix::process::{kill_process_group, Pid, Signal};
use tokio::process::Command;

use crate::codecommit::{self, CredentialSource};
use crate::credentials::{self, GitHubApi, NamedSecrets};
use crate::remote::{self, Pinned};
use crate::tree::{Change, Shape};

/// What the git preparer allows.
#[derive(Debug, Clone)]
pub struct GitPolicy {
    /// Clone local paths and `file://` URLs (the CLI on a developer's machine); off for a shared server.
    pub allow_local: bool,
    /// Remote hosts that may be (or resolve to) non-public addresses; every other such remote is refused
    /// before any connection. The same list as manifest fetches (`CERTUS_ASSURANCE_FETCH_ALLOW_HOSTS`).
    pub allow_hosts: Vec<String>,
    /// Limit for each git command; well under a scan slot's time, so a remote that never answers cannot hold
    /// a slot for long.
    pub timeout: Duration,
    /// AWS credentials for `git-codecommit.<region>.amazonaws.com` remotes (the function's role on Lambda);
    /// `None`: CodeCommit remotes are fetched without credentials.
    pub codecommit: Option<CredentialSource>,
    /// Where `git_credentials_ref` values of the form `file:NAME` are read from
    /// (`CERTUS_ASSURANCE_GIT_CREDENTIALS_DIR`); `None`: such references are refused.
    pub credentials_dir: Option<PathBuf>,
    /// Where `secretsmanager:` references are read from, and the prefix their names must have (on AWS);
    /// `None`: such references are refused (`certus scan` and `certus serve`).
    pub secrets: Option<NamedSecrets>,
    /// Where `githubapp:` references mint their installation tokens.
    pub github: GitHubApi,
    /// How many packs a kept checkout's repository may hold before [`tidy`] merges the smaller ones.
    pub max_packs: usize,
}

impl Default for GitPolicy {
    fn default() -> Self {
        Self {
            allow_local: false,
            allow_hosts: Vec::new(),
            timeout: Duration::from_secs(300),
            codecommit: None,
            credentials_dir: None,
            secrets: None,
            github: GitHubApi::default(),
            max_packs: DEFAULT_MAX_PACKS,
        }
    }
}

/// How many packs a kept checkout's repository holds at most, by default: each fetch adds one.
pub const DEFAULT_MAX_PACKS: usize = 16;

/// A transfer slower than this many bytes a second for [`LOW_SPEED_SECONDS`] is aborted.
const LOW_SPEED_BYTES: &str = "1000";
const LOW_SPEED_SECONDS: &str = "30";

/// The process group of a running git command: git and the transport helpers it starts (`git-remote-http`
/// holds the connection). Dropped before git has ended — its timeout passed, or the scan's task was aborted
/// by a cancel — it kills the whole group, so no helper is left holding a connection or a slot's resources.
struct GitGroup {
    leader: Option<Pid>,
}

impl GitGroup {
    fn of(child: &tokio::process::Child) -> Self {
        Self {
            leader: child
                .id()
                .and_then(|id| i32::try_from(id).ok())
                .and_then(Pid::from_raw),
        }
    }

    /// Git has exited and was reaped: nothing is left to kill.
    fn ended(&mut self) {
        self.leader = None;
    }
}

impl Drop for GitGroup {
    fn drop(&mut self) {
        if let Some(leader) = self.leader {
            // ESRCH (the group has already gone) is the expected outcome when nothing was left running.
            let _ = kill_process_group(leader, Signal::KILL);
        }
    }
}

/// A checked-out tree: its resolved commit and branch, and how git brought the tree there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub commit: String,
    pub branch: Option<String>,
    pub arrival: Arrival,
}

/// How git brought a tree to its commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// Checked out whole, every tracked path compared and restored (`checkout --force`).
    Whole,
    /// Moved from the commit the tree held: only the paths that differ between the two commits were written
    /// or removed (`changes`, or why they could not be listed), each first found as that commit holds it;
    /// every other path was left as it was.
    Moved {
        from: String,
        changes: std::result::Result<Vec<Change>, String>,
    },
    /// The tree could not be moved from the commit it was said to hold (git found a path that differs from
    /// it), so it was checked out whole: what else wrote the tree is unknown.
    NotMoved { from: String, why: String },
}

fn is_remote(url: &str) -> bool {
    ["https://", "ssh://", "git://", "http://"]
        .iter()
        .any(|s| url.starts_with(s))
        || (url.contains('@') && url.contains(':') && !url.contains("://"))
}

/// Where a checkout goes: the commit's files in `tree`, the repository in `git_dir` (outside the tree, so tools
/// never scan git's own files), git's home directory in `home`. A layout that already holds a checkout is
/// brought to the requested commit: only the objects the repository lacks are fetched and only changed files
/// are written; whatever else an earlier scan left in the tree stays until [`remove_untracked`].
#[derive(Debug, Clone, Copy)]
pub struct Layout<'a> {
    pub tree: &'a Path,
    pub git_dir: &'a Path,
    pub home: &'a Path,
}

/// The ref that marks the commit a layout holds, so the next fetch into it asks only for what is new.
const CHECKED_OUT_REF: &str = "refs/certus/checked-out";

/// The commit a kept tree holds, and the check that the paths a move would write or remove are still as the
/// tree held them (what the tree's last table recorded of each: its `stat`, or that nothing was there).
#[derive(Clone, Copy)]
pub struct Held<'a> {
    pub commit: &'a str,
    pub as_held: &'a (dyn Fn(Vec<Change>) -> AsHeld + Sync),
}

/// The answer of [`Held::as_held`], which looks at the tree (aside, where it may block).
pub type AsHeld = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>;

/// Fetches `url` (at `commit`, or the head of `branch`, or of the default branch) into `layout` and checks it
/// out. `credentials_ref` names the credentials of a private repository (a submission's
/// `git_credentials_ref`); they are read here, just before git runs. `held` is the commit the tree holds,
/// written by nothing but git since it was checked out: the tree is then moved from it, writing only what
/// differs, instead of comparing every tracked path.
pub async fn checkout(
    url: &str,
    branch: Option<&str>,
    commit: Option<&str>,
    credentials_ref: Option<&str>,
    layout: Layout<'_>,
    held: Option<Held<'_>>,
    policy: &GitPolicy,
) -> Result<Checkout> {
    let pinned = if is_remote(url) {
        remote::pin(url, &policy.allow_hosts).await?
    } else if policy.allow_local {
        Pinned {
            url: url.to_string(),
            config: Vec::new(),
            ssh_host: None,
        }
    } else {
        return Err(CoreError::Source(format!(
            "git_url '{url}' is a local path; local repositories are not allowed here"
        )));
    };
    let login = match credentials_ref {
        Some(reference) => Some(referenced_login(url, reference, policy).await?),
        None => codecommit_login(url, policy).await?,
    };
    let wanted = Wanted { branch, commit };
    fetch(&pinned, login.as_ref(), wanted, layout, held, policy).await
}

/// Removes from `layout`'s tree everything its checked-out commit does not track (what an earlier scan's
/// tools left: untracked and ignored files, directories, nested repositories), unless `walked` — the shape of
/// the tree just after the checkout — shows there is nothing to remove. A checkout puts every tracked path in
/// the tree, so a tree of the tracked shape holds nothing else, and the common case costs reading git's index
/// instead of `git clean` walking the whole tree a second time. Returns whether anything was removed.
pub async fn remove_untracked(
    layout: Layout<'_>,
    policy: &GitPolicy,
    walked: Shape,
) -> Result<bool> {
    let git = Git::local(layout, policy);
    let index = git.run_bytes(&["ls-files", "--stage", "-z"]).await?;
    if tracked_shape(&index)? == walked {
        return Ok(false);
    }
    git.run(&["clean", "--quiet", "-ffdx"]).await?;
    Ok(true)
}

/// Loose objects counted as one pack.
const LOOSE_PER_PACK: usize = 100;

/// Keeps a kept checkout's repository from growing with each fetch, at a cost that follows what the fetches
/// brought. git's own housekeeping is off (`Git::run_bytes`): it packs the whole repository again after a
/// fixed number of fetches, however little they brought (on a 1.4 GB tree, a rescan of 1 s took 15 s every
/// fiftieth time). Here, past `max_packs` packs, the small ones are merged (`plan`), which costs what they
/// hold and a walk of the commit's trees; the whole repository is packed again only once the packs besides
/// the largest hold half as many bytes as it, after as much again was fetched. Only what the checked-out
/// commit reaches is kept.
pub async fn tidy(layout: Layout<'_>, policy: &GitPolicy) -> Result<()> {
    let objects = layout.git_dir.join("objects");
    let census = tokio::task::spawn_blocking(move || Census::of(&objects))
        .await
        .map_err(|e| CoreError::Source(format!("counting the kept repository's objects: {e}")))??;
    let keep = match plan(census, policy.max_packs) {
        Plan::Leave => return Ok(()),
        Plan::Merge { keep } => keep,
        Plan::Repack => Vec::new(),
    };
    // Reflogs (kept checkouts made before they were turned off have them) would keep every commit reachable.
    let logs = layout.git_dir.join("logs");
    match std::fs::remove_dir_all(&logs) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(CoreError::io(&logs, e)),
        _ => {}
    }
    let git = Git::local(layout, policy);
    let repack = ["repack", "-a", "-d", "-q", "--no-write-bitmap-index"];
    if keep.is_empty() {
        git.run(&repack).await?;
        // Loose objects the commit does not reach (the packing leaves them).
        git.run(&["prune", "--expire=now"]).await?;
        return Ok(());
    }
    // A pack with a `.keep` beside it is left out of `repack -a`, and left alone.
    let marks: Vec<PathBuf> = keep
        .iter()
        .map(|pack| pack.with_extension("keep"))
        .collect();
    let marked = marks.iter().try_for_each(|mark| {
        std::fs::write(mark, "certus: left as it is\n").map_err(|e| CoreError::io(mark, e))
    });
    let merged = match marked {
        Ok(()) => git.run(&repack).await.map(|_| ()),
        Err(e) => Err(e),
    };
    let released = marks.iter().try_for_each(|mark| {
        std::fs::remove_file(mark).or_else(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Ok(()),
            _ => Err(CoreError::io(mark, e)),
        })
    });
    merged.and(released)
}

/// What [`tidy`] does with a repository's packs.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    Leave,
    /// Merge every pack but `keep`, and the loose objects.
    Merge {
        keep: Vec<PathBuf>,
    },
    Repack,
}

/// Leave the packs while there are at most `max_packs` (loose objects counting a pack per
/// [`LOOSE_PER_PACK`]); repack whole once the packs besides the largest hold at least half as many bytes as
/// it; else merge all but the largest and those that outweigh twice all packs smaller than them (a
/// geometric progression: each merge rewrites what came since the last, not all merged before).
fn plan(census: Census, max_packs: usize) -> Plan {
    let Census { mut packs, loose } = census;
    if packs.len() + loose.div_ceil(LOOSE_PER_PACK) <= max_packs {
        return Plan::Leave;
    }
    packs.sort_by_key(|(_, size)| *size);
    let mut smaller: u64 = packs.iter().map(|(_, size)| size).sum();
    let mut keep = Vec::new();
    while let Some((pack, size)) =
        packs.pop_if(|(_, size)| (smaller - *size).saturating_mul(2) < *size)
    {
        smaller -= size;
        keep.push(pack);
    }
    match keep.len() {
        0 => Plan::Repack,
        _ if packs.len() < 2 && loose == 0 => Plan::Leave,
        _ => Plan::Merge { keep },
    }
}

/// An I/O error on `path`, for `map_err`.
fn io(path: &Path) -> impl Fn(std::io::Error) -> CoreError + '_ {
    move |e| CoreError::io(path, e)
}

/// A repository's packs (with their sizes) and how many loose objects it holds.
struct Census {
    packs: Vec<(PathBuf, u64)>,
    loose: usize,
}

impl Census {
    /// Counts what `objects` holds. A `.keep` there is [`tidy`]'s, left by a run that did not finish: removed.
    fn of(objects: &Path) -> Result<Self> {
        let pack_dir = objects.join("pack");
        let mut packs = Vec::new();
        for entry in std::fs::read_dir(&pack_dir).map_err(io(&pack_dir))? {
            let path = entry.map_err(io(&pack_dir))?.path();
            match path.extension().and_then(|e| e.to_str()) {
                Some("pack") => {
                    let size = std::fs::symlink_metadata(&path).map_err(io(&path))?.len();
                    packs.push((path, size));
                }
                Some("keep") => std::fs::remove_file(&path).map_err(io(&path))?,
                _ => {}
            }
        }
        let mut loose = 0;
        for entry in std::fs::read_dir(objects).map_err(io(objects))? {
            let entry = entry.map_err(io(objects))?;
            let name = entry.file_name();
            let fanout = name.len() == 2
                && name
                    .as_encoded_bytes()
                    .iter()
                    .all(|b| b.is_ascii_hexdigit());
            let path = entry.path();
            if fanout && entry.file_type().map_err(io(&path))?.is_dir() {
                loose += std::fs::read_dir(&path).map_err(io(&path))?.count();
            }
        }
        Ok(Self { packs, loose })
    }
}

/// The commit `layout`'s tree last held (its checked-out marker ref), before a fetch moves it; `None` when
/// it holds none yet or git cannot say.
pub async fn checked_out(layout: Layout<'_>, policy: &GitPolicy) -> Option<String> {
    let git = Git::local(layout, policy);
    let marker = format!("{CHECKED_OUT_REF}^{{commit}}");
    let commit = git
        .run(&["rev-parse", "--verify", "--quiet", &marker])
        .await
        .ok()?;
    Some(commit.trim().to_string())
}

/// One entry that differs between two commits' trees, as `git diff-tree -r --raw` gives it: its path, its
/// mode before and after (0 where it is absent) and the object it is now (all zeros once removed).
struct Difference {
    path: String,
    old_mode: u32,
    new_mode: u32,
    new_id: String,
}

impl Difference {
    /// Whether [`Git::write`] writes it: a regular file or a link before and after (or absent); a submodule
    /// is left to git's own merge.
    fn is_plain(&self) -> bool {
        let plain = |mode: u32| mode == 0 || matches!(mode & 0o170000, 0o100000 | 0o120000);
        plain(self.old_mode) && plain(self.new_mode)
    }
}

/// A path whose file or link leaves the tree: for good (the commit drops it), or to be written again.
struct Leaving {
    path: String,
    for_good: bool,
}

/// The fewest paths a thread of [`clear`] takes: fewer are not worth a thread.
const CLEARED_PER_THREAD: usize = 64;

/// Takes each of `leaving` out of `tree`, on every core (a run of neighbouring paths each): those that leave
/// for good with the directories they leave empty, the others alone. Never through a link.
fn clear(tree: &Path, leaving: &[Leaving]) -> Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let share = leaving.len().div_ceil(threads).max(CLEARED_PER_THREAD);
    std::thread::scope(|scope| {
        let parts: Vec<_> = leaving
            .chunks(share)
            .map(|part| {
                scope.spawn(move || {
                    let mut beneath = certus_beneath::Beneath::new(tree);
                    part.iter().try_for_each(|leaving| {
                        let rel = leaving.path.as_str();
                        match leaving.for_good {
                            true => beneath.remove(rel),
                            false => beneath.unlink(rel),
                        }
                        .map_err(|e| CoreError::Source(format!("removing {rel}: {e}")))
                    })
                })
            })
            .collect();
        parts.into_iter().try_for_each(|part| {
            part.join()
                .map_err(|_| CoreError::Source("a thread removing paths panicked".into()))?
        })
    })
}

/// The paths `differences` changes, and whether each is a regular file now.
fn changes_of(differences: &[Difference]) -> Vec<Change> {
    differences
        .iter()
        .map(|d| Change {
            path: d.path.clone(),
            // Any regular file's mode, as git's checkout takes it (old trees may hold 100664).
            file: d.new_mode & 0o170000 == 0o100000,
        })
        .collect()
}

/// The records of `git diff-tree -r -z --no-abbrev` (`:<old mode> <new mode> <old id> <new id> <status>` NUL
/// `<path>` NUL).
fn parse_raw_diff(raw: &[u8]) -> Result<Vec<Difference>> {
    let unreadable = || CoreError::Source("git diff-tree: unexpected output".to_string());
    let mut fields = raw.split(|&b| b == 0);
    let mut differences = Vec::new();
    while let Some(info) = fields.next().filter(|f| !f.is_empty()) {
        let path = fields
            .next()
            .filter(|p| !p.is_empty())
            .ok_or_else(unreadable)?;
        let info = info
            .strip_prefix(b":")
            .and_then(|rest| std::str::from_utf8(rest).ok())
            .ok_or_else(unreadable)?;
        let mut parts = info.split(' ');
        let mut mode = || {
            parts
                .next()
                .and_then(|mode| u32::from_str_radix(mode, 8).ok())
                .ok_or_else(unreadable)
        };
        let (old_mode, new_mode) = (mode()?, mode()?);
        let new_id = parts
            .nth(1)
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(unreadable)?;
        differences.push(Difference {
            path: String::from_utf8(path.to_vec()).map_err(|_| {
                CoreError::Source("git diff-tree: a path that is not UTF-8".to_string())
            })?,
            old_mode,
            new_mode,
            new_id: new_id.to_string(),
        });
    }
    Ok(differences)
}

/// No remote: for git commands that only read or write the layout itself.
static NO_REMOTE: Pinned = Pinned {
    url: String::new(),
    config: Vec::new(),
    ssh_host: None,
};

/// The shape of a tree holding exactly the paths of `index` (`git ls-files --stage -z`): every entry but a
/// submodule's is an entry of the tree; a submodule's (mode 160000) is an empty directory, and so is every
/// directory above an entry.
fn tracked_shape(index: &[u8]) -> Result<Shape> {
    let unreadable = || CoreError::Source("git ls-files: unexpected output".to_string());
    let mut directories = std::collections::HashSet::new();
    let mut entries = 0u64;
    for record in index.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let tab = record
            .iter()
            .position(|&b| b == b'\t')
            .ok_or_else(unreadable)?;
        let (info, path) = (&record[..tab], &record[tab + 1..]);
        if info.starts_with(b"160000 ") {
            directories.insert(path);
        } else {
            entries += 1;
        }
        let mut parent = path;
        while let Some(slash) = parent.iter().rposition(|&b| b == b'/') {
            parent = &parent[..slash];
            if !directories.insert(parent) {
                break;
            }
        }
    }
    Ok(Shape {
        directories: directories.len() as u64,
        entries,
    })
}

/// A user name and password for one remote, and the remote's `scheme://host[:port]` that git's credential
/// helper is scoped to. `Debug` shows neither secret.
struct Login {
    username: String,
    password: String,
    scope: String,
}

/// `scheme://host[:port]` of `url`, as git's `credential.<url>.*` settings match it.
fn scope_of(url: &url::Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// The credentials `reference` names, for `url`: sent over `https://`, or over `http://` only to a host the
/// operator allow-listed (a server on the operator's own network); any other remote is refused, naming the
/// field, before the secret is read.
async fn referenced_login(url: &str, reference: &str, policy: &GitPolicy) -> Result<Login> {
    let not_http = || {
        CoreError::Source(format!(
            "{GIT_CREDENTIALS_REF}: credentials are only handed to git for an https:// git_url"
        ))
    };
    let parsed = url::Url::parse(url).map_err(|_| not_http())?;
    let host = parsed.host_str().ok_or_else(not_http)?;
    match parsed.scheme() {
        "https" => {}
        "http" if certus_fetch::host_listed(&policy.allow_hosts, host) => {}
        "http" => {
            return Err(CoreError::Source(format!(
                "{GIT_CREDENTIALS_REF}: credentials are not sent in clear over http:// to a host \
                 outside CERTUS_ASSURANCE_FETCH_ALLOW_HOSTS; use https://"
            )))
        }
        _ => return Err(not_http()),
    }
    let scope = scope_of(&parsed).ok_or_else(not_http)?;
    let secret = credentials::read(
        reference,
        policy.credentials_dir.as_deref(),
        policy.secrets.as_ref(),
        &policy.github,
    )
    .await?;
    Ok(Login {
        username: secret.username,
        password: secret.password,
        scope,
    })
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Login(<redacted>)")
    }
}

/// Credentials for `url` when it is a CodeCommit repository and the policy has AWS credentials: over
/// `https://`, or over `http://` only to a host the operator allow-listed (a local endpoint).
async fn codecommit_login(url: &str, policy: &GitPolicy) -> Result<Option<Login>> {
    let Some(source) = &policy.codecommit else {
        return Ok(None);
    };
    let Ok(parsed) = url::Url::parse(url) else {
        return Ok(None);
    };
    let Some(url::Host::Domain(host)) = parsed.host() else {
        return Ok(None);
    };
    let Some(region) = codecommit::region_of(host) else {
        return Ok(None);
    };
    let secure = match parsed.scheme() {
        "https" => true,
        "http" => certus_fetch::host_listed(&policy.allow_hosts, host),
        _ => false,
    };
    if !secure {
        return Ok(None);
    }
    let Some(scope) = scope_of(&parsed) else {
        return Ok(None);
    };
    let credentials = source.credentials().await?;
    let timestamp = chrono::Utc::now().format("%Y%m%dT%H%M%S").to_string();
    Ok(Some(Login {
        username: codecommit::username(&credentials),
        password: codecommit::password(&credentials, region, host, parsed.path(), &timestamp),
        scope,
    }))
}

/// What a checkout asks for: a commit, or the head of a branch, or of the default branch.
struct Wanted<'a> {
    branch: Option<&'a str>,
    commit: Option<&'a str>,
}

async fn fetch(
    pinned: &Pinned,
    login: Option<&Login>,
    wanted: Wanted<'_>,
    layout: Layout<'_>,
    held: Option<Held<'_>>,
    policy: &GitPolicy,
) -> Result<Checkout> {
    let Wanted { branch, commit } = wanted;
    let url = pinned.url.as_str();
    let git = Git {
        layout,
        policy,
        pinned,
        login,
    };
    // A tree that holds a commit has its repository already.
    if held.is_none() {
        git.run(&["init", "--quiet"]).await?;
    }
    let shallow = git
        .run(&[
            "fetch",
            "--quiet",
            "--no-tags",
            "--depth=1",
            "--",
            url,
            commit.or(branch).unwrap_or("HEAD"),
        ])
        .await;
    let target = match (shallow, commit) {
        (Ok(_), _) => "FETCH_HEAD",
        // Servers that refuse fetching a bare commit: fetch the branch (or all branches) and find it there.
        (Err(_), Some(sha)) => {
            let refspec = match branch {
                Some(b) => format!("+refs/heads/{b}:refs/remotes/origin/{b}"),
                None => "+refs/heads/*:refs/remotes/origin/*".to_string(),
            };
            git.run(&["fetch", "--quiet", "--no-tags", "--", url, &refspec])
                .await?;
            sha
        }
        (Err(shallow_err), None) => return Err(shallow_err),
    };
    let arrival = git.switch(held, target).await?;
    git.run(&["update-ref", CHECKED_OUT_REF, "HEAD"]).await?;
    let resolved = git.run(&["rev-parse", "HEAD"]).await?.trim().to_string();
    if let Some(requested) = commit {
        if !resolved.starts_with(requested) {
            return Err(CoreError::Source(format!(
                "checked out {resolved}, which is not the requested commit {requested}"
            )));
        }
    }
    Ok(Checkout {
        commit: resolved,
        branch: branch.map(str::to_string),
        arrival,
    })
}

struct Git<'a> {
    layout: Layout<'a>,
    policy: &'a GitPolicy,
    pinned: &'a Pinned,
    login: Option<&'a Login>,
}

/// A credential helper that answers `get` with the user name and password from its own environment, which
/// only the git process given a [`Login`] has; configured as `credential.<scope>.helper`, so git asks it
/// only for the remote's own scheme, host and port.
const ENV_CREDENTIAL_HELPER: &str = "helper=!f() { test \"$1\" = get && \
     printf 'username=%s\\npassword=%s\\n' \"$CERTUS_GIT_USERNAME\" \"$CERTUS_GIT_PASSWORD\"; }; f";

/// The `-c` arguments that give git the environment credential helper for `login`'s remote only: every
/// other helper cleared, this one configured for the remote's `scheme://host[:port]`.
fn credential_config(login: &Login) -> [String; 4] {
    [
        "-c".to_string(),
        "credential.helper=".to_string(),
        "-c".to_string(),
        format!("credential.{}.{ENV_CREDENTIAL_HELPER}", login.scope),
    ]
}

impl<'a> Git<'a> {
    /// Git for commands that only read or write the layout itself: no remote, no credentials.
    fn local(layout: Layout<'a>, policy: &'a GitPolicy) -> Self {
        Git {
            layout,
            policy,
            pinned: &NO_REMOTE,
            login: None,
        }
    }

    /// Brings the tree and HEAD to `target`. From `held` (the commit the tree holds, written by nothing but
    /// git since) only the paths that differ are written: by [`Git::write`] when they are files and links the
    /// tree still holds as `held` left them, else by git's two-tree merge, which first checks each path against
    /// its index. If that refuses, or with nothing held, the whole tree is checked out by force. Either way,
    /// as with any checkout that keeps a tree, a file that did not change is not written again when a
    /// `.gitattributes` changes how it would be (its line endings, say): a fresh clone writes it as they say.
    async fn switch(&self, held: Option<Held<'_>>, target: &str) -> Result<Arrival> {
        let arrival = match held {
            None => Arrival::Whole,
            Some(held) => {
                let from = held.commit;
                let listed = self.differences(from, target).await;
                let changes = listed
                    .as_ref()
                    .map(|d| changes_of(d))
                    .map_err(|e| e.to_string());
                let writable = match (&listed, &changes) {
                    (Ok(differences), Ok(changes)) => {
                        differences.iter().all(Difference::is_plain)
                            && (held.as_held)(changes.clone()).await
                    }
                    _ => false,
                };
                let moved = match listed {
                    Ok(differences) if writable => self.write(&differences).await,
                    _ => self
                        .run(&["read-tree", "-m", "-u", from, target])
                        .await
                        .map(|_| ()),
                };
                match moved {
                    Ok(()) => {
                        self.run(&["update-ref", "--no-deref", "HEAD", target])
                            .await?;
                        return Ok(Arrival::Moved {
                            from: from.to_string(),
                            changes,
                        });
                    }
                    Err(e) => Arrival::NotMoved {
                        from: from.to_string(),
                        why: e.to_string(),
                    },
                }
            }
        };
        self.run(&["checkout", "--quiet", "--force", "--detach", target])
            .await?;
        Ok(arrival)
    }

    /// Writes `differences` (plain ones, [`Difference::is_plain`]) into the tree and the index: the index
    /// takes the new entries while every changed path that held a file or link leaves the tree (those that
    /// are gone with the directories they leave empty), then git writes the new files from their objects,
    /// through the attributes and filters a checkout applies, recording what it wrote in the index.
    async fn write(&self, differences: &[Difference]) -> Result<()> {
        let mut entries = Vec::new();
        for d in differences {
            entries.extend_from_slice(format!("{:o} {}\t", d.new_mode, d.new_id).as_bytes());
            entries.extend_from_slice(d.path.as_bytes());
            entries.push(0);
        }
        // git's index and the tree touch different things: both at once. Every path that held something
        // leaves the tree first, on every core, so that git only creates files (replacing one, it unlinks the
        // old one first, one at a time). A failure either way leaves the tree neither commit's; the tree is
        // then checked out whole, by force, and read whole.
        let index = self.run_with(&["update-index", "-z", "--index-info"], entries);
        let tree = self.layout.tree.to_path_buf();
        let leaving: Vec<Leaving> = differences
            .iter()
            .filter(|d| d.old_mode != 0)
            .map(|d| Leaving {
                path: d.path.clone(),
                for_good: d.new_mode == 0,
            })
            .collect();
        let removal = tokio::task::spawn_blocking(move || clear(&tree, &leaving));
        let (index, removal) = tokio::join!(index, removal);
        let removal = removal
            .map_err(|e| CoreError::Source(format!("removing the paths a commit changed: {e}")))
            .and_then(|removed| removed);
        if let (Err(index), Err(removal)) = (&index, &removal) {
            return Err(CoreError::Source(format!("{index}; and {removal}")));
        }
        index?;
        removal?;
        let mut written = Vec::new();
        for d in differences.iter().filter(|d| d.new_mode != 0) {
            written.extend_from_slice(d.path.as_bytes());
            written.push(0);
        }
        if !written.is_empty() {
            self.run_with(
                &["checkout-index", "--force", "-u", "-z", "--stdin"],
                written,
            )
            .await?;
        }
        Ok(())
    }

    /// The entries that differ between the trees of commits `from` and `to` (added, removed, rewritten, or
    /// changed in mode or type).
    async fn differences(&self, from: &str, to: &str) -> Result<Vec<Difference>> {
        let args = [
            "diff-tree",
            "-r",
            "-z",
            "--no-renames",
            "--no-abbrev",
            from,
            to,
        ];
        parse_raw_diff(&self.run_bytes(&args).await?)
    }

    /// What git printed, as text.
    async fn run(&self, args: &[&str]) -> Result<String> {
        let stdout = self.run_bytes(args).await?;
        Ok(String::from_utf8_lossy(&stdout).into_owned())
    }

    /// What git printed, as it printed it.
    async fn run_bytes(&self, args: &[&str]) -> Result<Vec<u8>> {
        self.run_fed(args, None).await
    }

    /// Runs git with `input` on its standard input.
    async fn run_with(&self, args: &[&str], input: Vec<u8>) -> Result<Vec<u8>> {
        self.run_fed(args, Some(input)).await
    }

    /// What git printed, given `input` (or nothing) to read.
    async fn run_fed(&self, args: &[&str], input: Option<Vec<u8>>) -> Result<Vec<u8>> {
        let ssh = match &self.pinned.ssh_host {
            Some(address) => format!(
                "ssh -o BatchMode=yes -o HostName={address} -o CanonicalizeHostname=no \
                 -o ProxyCommand=none -o ProxyJump=none"
            ),
            None => "ssh -o BatchMode=yes".to_string(),
        };
        let mut cmd = Command::new("git");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.layout.home)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_ASKPASS", "/bin/false")
            .env("SSH_ASKPASS", "/bin/false")
            .env("GIT_SSH_COMMAND", ssh)
            .env("LC_ALL", "C")
            .envs(self.login.iter().flat_map(|login| {
                [
                    ("CERTUS_GIT_USERNAME", login.username.as_str()),
                    ("CERTUS_GIT_PASSWORD", login.password.as_str()),
                ]
            }))
            .current_dir(self.layout.tree)
            .arg("--git-dir")
            .arg(self.layout.git_dir)
            .arg("--work-tree")
            .arg(self.layout.tree)
            .args([
                "-c",
                "core.hooksPath=/dev/null",
                "-c",
                "protocol.allow=never",
                "-c",
                "protocol.https.allow=always",
                "-c",
                "protocol.http.allow=always",
                "-c",
                "protocol.ssh.allow=always",
                "-c",
                "protocol.git.allow=always",
                "-c",
                &format!(
                    "protocol.file.allow={}",
                    if self.policy.allow_local {
                        "always"
                    } else {
                        "never"
                    }
                ),
                "-c",
                "core.fsmonitor=false",
                "-c",
                "submodule.recurse=false",
                // git's automatic housekeeping packs a whole repository again after a fixed number of
                // fetches, however little they brought: off, a kept checkout's repository is tidied by
                // `tidy`. Every fetch keeps what it received as one pack (never as loose objects), and no
                // reflog keeps the commits a kept checkout held before.
                "-c",
                "gc.auto=0",
                "-c",
                "maintenance.auto=false",
                "-c",
                "fetch.unpackLimit=1",
                "-c",
                "core.logAllRefUpdates=false",
                // Index version 4 without its checksum, the untracked cache: a large tree's checkout and
                // clean touch less.
                "-c",
                "feature.manyFiles=true",
                "-c",
                "advice.detachedHead=false",
                // Checkouts of 100 files or more write on every core: most of a checkout's time is the
                // kernel creating files, which one process does one at a time.
                "-c",
                "checkout.workers=0",
                // `tidy`'s repacks compress fast. (The bases a thin pack needs, which `index-pack` copies
                // in, follow `core.compression`: stored, they made the fetch faster but every pack twice
                // the size, so `tidy` repacked the whole repository twice as often.)
                "-c",
                "pack.compression=1",
                "-c",
                &format!("http.lowSpeedLimit={LOW_SPEED_BYTES}"),
                "-c",
                &format!("http.lowSpeedTime={LOW_SPEED_SECONDS}"),
            ])
            .args(
                self.pinned
                    .config
                    .iter()
                    .flat_map(|setting| ["-c", setting.as_str()]),
            )
            .args(self.login.into_iter().flat_map(credential_config))
            .args(args)
            .stdin(match input {
                Some(_) => std::process::Stdio::piped(),
                None => std::process::Stdio::null(),
            })
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| CoreError::Source(format!("could not run git: {e}")))?;
        let mut group = GitGroup::of(&child);
        let stdin = child.stdin.take();
        let feed = async move {
            use tokio::io::AsyncWriteExt;
            if let (Some(mut stdin), Some(input)) = (stdin, input) {
                // A git that stops reading early says why itself: its exit status is what is checked.
                let _ = stdin.write_all(&input).await;
            }
        };
        let run = async {
            let (output, ()) = tokio::join!(child.wait_with_output(), feed);
            output
        };
        let output = tokio::time::timeout(self.policy.timeout, run)
            .await
            .map_err(|_| {
                CoreError::Source(format!(
                    "git {} did not finish within {}s",
                    args.first().copied().unwrap_or(""),
                    self.policy.timeout.as_secs()
                ))
            })?
            .map_err(|e| CoreError::Source(format!("could not run git: {e}")))?;
        group.ended();
        if output.status.success() {
            Ok(output.stdout)
        } else {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let reason: String = stderr
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("")
                .chars()
                .take(500)
                .collect();
            Err(CoreError::Source(format!(
                "git {} failed: {}",
                args.first().copied().unwrap_or(""),
                if reason.is_empty() {
                    format!("exit status {}", output.status)
                } else {
                    reason
                }
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codecommit::{AwsCredentials, CodeCommitCredentials};
    use std::process::Stdio;
    use std::sync::Arc;

    fn census(sizes: &[u64], loose: usize) -> Census {
        let packs = sizes
            .iter()
            .enumerate()
            .map(|(n, size)| (PathBuf::from(format!("pack-{n}.pack")), *size))
            .collect();
        Census { packs, loose }
    }

    fn kept(names: &[usize]) -> Plan {
        let keep = names
            .iter()
            .map(|n| PathBuf::from(format!("pack-{n}.pack")))
            .collect();
        Plan::Merge { keep }
    }

    #[test]
    fn small_packs_are_merged_those_that_outweigh_the_smaller_kept_and_a_repository_grown_by_half_repacked(
    ) {
        // Within the limit (loose objects counting a pack per hundred): left.
        assert_eq!(plan(census(&[1000, 5, 5], 0), 3), Plan::Leave);
        assert_eq!(plan(census(&[1000, 5], 100), 3), Plan::Leave);
        // Past it: all but the largest merged, unless one outweighs twice everything smaller than it.
        assert_eq!(plan(census(&[1000, 5, 5, 5], 0), 3), kept(&[0]));
        assert_eq!(
            plan(census(&[5, 1000, 300, 40, 30, 5], 0), 3),
            kept(&[1, 2])
        );
        // Loose objects alone to pack: every pack kept.
        assert_eq!(plan(census(&[1000, 5], 301), 3), kept(&[0, 1]));
        // A geometric progression already: nothing to merge.
        assert_eq!(plan(census(&[1000, 27, 9, 3, 1], 0), 3), Plan::Leave);
        // The packs besides the largest hold half as much as it: everything packed again.
        assert_eq!(plan(census(&[1000, 300, 100, 100], 0), 3), Plan::Repack);
        assert_eq!(plan(census(&[], 500), 3), Plan::Repack);
    }

    const HOST: &str = "git-codecommit.us-east-1.amazonaws.com";
    const SECRET: &str = "test-secret-key";

    #[derive(Debug)]
    struct Fixed;

    #[async_trait::async_trait]
    impl CodeCommitCredentials for Fixed {
        async fn credentials(&self) -> Result<AwsCredentials> {
            Ok(AwsCredentials {
                access_key_id: "ASIATESTKEY".into(),
                secret_access_key: SECRET.into(),
                session_token: Some("session/token+1=".into()),
            })
        }
    }

    /// The loopback git server's judgement: `ok` only for Basic auth with CodeCommit's user name (key id
    /// and session token) and the password it recomputes from the secret (a SigV4 signature of `GIT`).
    const CODECOMMIT_AUTH: &str = r#"
KEY, TOKEN, SECRET, HOST = "ASIATESTKEY", "session/token+1=", "test-secret-key", "git-codecommit.us-east-1.amazonaws.com"
def h(k, m): return hmac.new(k, m.encode(), hashlib.sha256).digest()
def expected(ts, path):
    canonical = "GIT\n%s\n\nhost:%s\n\nhost\n" % (path, HOST)
    scope = "%s/us-east-1/codecommit/aws4_request" % ts[:8]
    sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (ts, scope, hashlib.sha256(canonical.encode()).hexdigest())
    k = ("AWS4" + SECRET).encode()
    for part in (ts[:8], "us-east-1", "codecommit", "aws4_request"):
        k = h(k, part)
    return "%sZ%s" % (ts, hmac.new(k, sts.encode(), hashlib.sha256).hexdigest())
def authorise(auth):
    if not auth.startswith("Basic "):
        return "none"
    user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
    ts = password.split("Z")[0]
    ok = user == KEY + "%" + TOKEN and password == expected(ts, "/v1/repos/app")
    return "ok" if ok else "bad"
"#;

    use certus_testkit::git;

    struct Server {
        http: certus_testkit::GitHttpServer,
        port: u16,
        head: String,
    }

    async fn server(dir: &Path) -> Server {
        let work = dir.join("work");
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        std::fs::write(work.join("a.txt"), "one").unwrap();
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", "one"]);
        let head = git(&work, &["rev-parse", "HEAD"]);
        let repos = dir.join("repos");
        std::fs::create_dir_all(&repos).unwrap();
        let status = std::process::Command::new("git")
            .args(["clone", "-q", "--bare"])
            .arg(&work)
            .arg(repos.join("app"))
            .status()
            .unwrap();
        assert!(status.success());
        let http = certus_testkit::GitHttpServer::start(dir, &repos, "/v1/repos", CODECOMMIT_AUTH);
        Server {
            port: http.port,
            http,
            head,
        }
    }

    /// The CodeCommit host pinned to the loopback server, as `remote::pin` would pin a resolved name.
    fn pinned(port: u16) -> Pinned {
        Pinned {
            url: format!("http://{HOST}:{port}/v1/repos/app"),
            config: vec![
                "http.followRedirects=false".into(),
                format!("http.curloptResolve={HOST}:{port}:127.0.0.1"),
            ],
            ssh_host: None,
        }
    }

    fn policy(credentials: bool) -> GitPolicy {
        GitPolicy {
            allow_hosts: vec![HOST.into()],
            timeout: Duration::from_secs(60),
            codecommit: credentials.then(|| Arc::new(Fixed) as CredentialSource),
            ..GitPolicy::default()
        }
    }

    async fn clone(server: &Server, dir: &Path, policy: &GitPolicy) -> Result<Checkout> {
        let pinned = pinned(server.port);
        let dest = dir.join(format!("dest-{}", policy.codecommit.is_some()));
        let home = dir.join(format!("home-{}", policy.codecommit.is_some()));
        std::fs::create_dir_all(&dest).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        let login = codecommit_login(&pinned.url, policy).await?;
        let layout = Layout {
            tree: &dest,
            git_dir: &home.join("repo.git"),
            home: &home,
        };
        let wanted = Wanted {
            branch: Some("main"),
            commit: None,
        };
        fetch(&pinned, login.as_ref(), wanted, layout, None, policy).await
    }

    #[test]
    fn the_tracked_shape_counts_a_submodule_and_every_directory_above_an_entry_once() {
        let oid = "0123456789abcdef0123456789abcdef01234567";
        let index = [
            format!("100644 {oid} 0\ta.txt"),
            format!("120000 {oid} 0\tlink"),
            format!("100755 {oid} 0\tsrc/lib/run.sh"),
            format!("100644 {oid} 0\tsrc/lib/x.rs"),
            format!("100644 {oid} 0\tsrc/y.rs"),
            format!("160000 {oid} 0\tvendor/sub"),
        ]
        .map(|record| record + "\0")
        .concat();
        assert_eq!(
            tracked_shape(index.as_bytes()).unwrap(),
            Shape {
                directories: 4,
                entries: 5
            }
        );
        assert_eq!(tracked_shape(b"").unwrap(), Shape::default());
        assert!(tracked_shape(b"100644 no tab\0").is_err());
    }

    #[test]
    fn a_raw_diff_gives_every_changed_path_its_modes_and_object_and_how_it_is_written() {
        let raw = [
            ":100644 100644 aa bb M\0src/a.py\0",
            ":000000 100755 00 cc A\0bin/run\0",
            ":100644 000000 dd 00 D\0gone.txt\0",
            ":100644 120000 ee ff T\0link\0",
            ":000000 160000 00 11 A\0vendor/sub\0",
            ":100644 100664 22 33 M\0old mode.txt\0",
            ":100644 100644 44 55 M\0docs/.gitattributes\0",
        ]
        .concat();
        let differences = parse_raw_diff(raw.as_bytes()).unwrap();
        let seen: Vec<(&str, u32, u32, &str, bool)> = differences
            .iter()
            .map(|d| {
                let (path, id) = (d.path.as_str(), d.new_id.as_str());
                (path, d.old_mode, d.new_mode, id, d.is_plain())
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("src/a.py", 0o100644, 0o100644, "bb", true),
                ("bin/run", 0, 0o100755, "cc", true),
                ("gone.txt", 0o100644, 0, "00", true),
                ("link", 0o100644, 0o120000, "ff", true),
                ("vendor/sub", 0, 0o160000, "11", false),
                ("old mode.txt", 0o100644, 0o100664, "33", true),
                ("docs/.gitattributes", 0o100644, 0o100644, "55", true),
            ]
        );
        let changes = changes_of(&differences);
        let files: Vec<(&str, bool)> = changes.iter().map(|c| (c.path.as_str(), c.file)).collect();
        assert_eq!(
            files,
            [
                ("src/a.py", true),
                ("bin/run", true),
                ("gone.txt", false),
                ("link", false),
                ("vendor/sub", false),
                ("old mode.txt", true),
                ("docs/.gitattributes", true)
            ]
        );
        assert!(parse_raw_diff(b":100644 100644 aa bb M\0").is_err());
        assert!(parse_raw_diff(b":100644 100644 aa zz M\0path\0").is_err());
        assert!(parse_raw_diff(b"garbage\0path\0").is_err());
        assert!(parse_raw_diff(b"").unwrap().is_empty());
    }

    /// A checkout's directories under one directory: `tree/`, `home/` and `home/repo.git`.
    struct Dirs {
        tree: PathBuf,
        home: PathBuf,
        git_dir: PathBuf,
    }

    impl Dirs {
        fn under(dir: &Path) -> Self {
            let (tree, home) = (dir.join("tree"), dir.join("home"));
            std::fs::create_dir_all(&tree).unwrap();
            std::fs::create_dir_all(&home).unwrap();
            let git_dir = home.join("repo.git");
            Self {
                tree,
                home,
                git_dir,
            }
        }

        fn layout(&self) -> Layout<'_> {
            Layout {
                tree: &self.tree,
                git_dir: &self.git_dir,
                home: &self.home,
            }
        }
    }

    /// Commits everything in `repo` (a new repository) on `main`; its URL, and a policy that lets git read it.
    fn committed(repo: &Path) -> (String, GitPolicy) {
        git(repo, &["init", "-q", "-b", "main"]);
        git(repo, &["add", "-A"]);
        git(repo, &["commit", "-q", "-m", "one"]);
        let policy = GitPolicy {
            allow_local: true,
            ..GitPolicy::default()
        };
        (format!("file://{}", repo.display()), policy)
    }

    /// A push whose paths the tree still holds as its last commit left them is written by certus itself
    /// (git's own merge would refuse the tree below, whose file was changed behind its back); otherwise git's
    /// merge decides, and refuses.
    #[tokio::test]
    async fn paths_the_tree_holds_as_left_are_written_and_the_rest_left_to_gits_merge() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        for (rel, text) in [("src/a.txt", "one"), ("b.txt", "b")] {
            std::fs::create_dir_all(repo.join(rel).parent().unwrap()).unwrap();
            std::fs::write(repo.join(rel), text).unwrap();
        }
        let (url, policy) = committed(&repo);
        let first = git(&repo, &["rev-parse", "HEAD"]);
        for (step, as_held) in [true, false].into_iter().enumerate() {
            let dirs = Dirs::under(&dir.path().join(format!("step{step}")));
            let (layout, tree) = (dirs.layout(), &dirs.tree);
            checkout(&url, None, Some(&first), None, layout, None, &policy)
                .await
                .unwrap();
            std::fs::write(tree.join("src/a.txt"), "changed behind git's back").unwrap();
            std::fs::write(repo.join("src/a.txt"), "two").unwrap();
            git(&repo, &["commit", "-q", "-am", &format!("two {step}")]);
            let asked = std::sync::Mutex::new(Vec::new());
            let check = |changes: Vec<Change>| -> AsHeld {
                asked.lock().unwrap().extend(changes);
                Box::pin(async move { as_held })
            };
            let held = Held {
                commit: &first,
                as_held: &check,
            };
            let moved = checkout(&url, Some("main"), None, None, layout, Some(held), &policy)
                .await
                .unwrap();
            let asked = asked.into_inner().unwrap();
            assert_eq!(
                asked,
                [Change {
                    path: "src/a.txt".into(),
                    file: true
                }]
            );
            match (as_held, &moved.arrival) {
                (true, Arrival::Moved { from, changes }) => {
                    assert_eq!((from, changes.as_deref()), (&first, Ok(&asked[..])));
                }
                (false, Arrival::NotMoved { from, .. }) => assert_eq!(from, &first),
                (_, arrival) => panic!("as held: {as_held}, yet {arrival:?}"),
            }
            assert_eq!(
                std::fs::read_to_string(tree.join("src/a.txt")).unwrap(),
                "two"
            );
            assert_eq!(std::fs::read_to_string(tree.join("b.txt")).unwrap(), "b");
            git(&repo, &["reset", "-q", "--hard", &first]);
        }
    }

    /// A checkout of a repository with nested directories, a link and a submodule has the shape its index
    /// says, so nothing is removed; each kind of leftover (an empty directory, an untracked file, an ignored
    /// one, a nested repository) is removed, and only then.
    #[tokio::test]
    async fn only_a_tree_holding_more_than_its_commit_is_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("src/deep/er")).unwrap();
        std::fs::write(repo.join("src/deep/er/a.rs"), "a").unwrap();
        std::fs::write(repo.join("b.txt"), "b").unwrap();
        std::fs::write(repo.join(".gitignore"), "*.o\n").unwrap();
        std::os::unix::fs::symlink("b.txt", repo.join("link")).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["add", "-A"]);
        let oid = "0123456789abcdef0123456789abcdef01234567";
        let gitlink = format!("160000,{oid},vendor/sub");
        git(&repo, &["update-index", "--add", "--cacheinfo", &gitlink]);
        git(&repo, &["commit", "-q", "-m", "one"]);
        let dirs = Dirs::under(dir.path());
        let (layout, tree) = (dirs.layout(), dirs.tree.as_path());
        let policy = GitPolicy {
            allow_local: true,
            ..GitPolicy::default()
        };
        let url = format!("file://{}", repo.display());
        checkout(&url, Some("main"), None, None, layout, None, &policy)
            .await
            .unwrap();
        assert!(
            tree.join("vendor/sub").is_dir(),
            "a submodule is a directory"
        );
        let shape = |tree: &Path| {
            crate::tree::tree_table(tree, &crate::tree::PreviousTable::default(), None)
                .unwrap()
                .shape
        };
        let clean = shape(tree);
        assert!(!remove_untracked(layout, &policy, clean).await.unwrap());
        type Leave = fn(&Path);
        let leftovers: [(&str, Leave); 4] = [
            ("an empty directory", |t| {
                std::fs::create_dir(t.join("src/empty")).unwrap();
            }),
            ("an untracked file", |t| {
                std::fs::write(t.join("src/deep/new.rs"), "x").unwrap();
            }),
            ("an ignored file", |t| {
                std::fs::write(t.join("src/deep/er/a.o"), "x").unwrap();
            }),
            ("a nested repository", |t| {
                std::fs::create_dir_all(t.join("nested/.git")).unwrap();
                std::fs::write(t.join("nested/.git/HEAD"), "ref: refs/heads/main").unwrap();
            }),
        ];
        for (what, leave) in leftovers {
            leave(tree);
            let walked = shape(tree);
            assert_ne!(walked, clean, "{what}");
            assert!(
                remove_untracked(layout, &policy, walked).await.unwrap(),
                "{what}"
            );
            assert_eq!(shape(tree), clean, "{what} is removed");
        }
    }

    #[tokio::test]
    async fn a_codecommit_remote_gets_sigv4_credentials_from_the_role() {
        let dir = tempfile::tempdir().unwrap();
        let server = server(dir.path()).await;
        let checkout = clone(&server, dir.path(), &policy(true)).await.unwrap();
        assert_eq!(checkout.commit, server.head);
        let verdicts = server.http.verdicts();
        assert!(verdicts.iter().any(|v| v == "ok"), "{verdicts:?}");
        assert!(!verdicts.iter().any(|v| v == "bad"), "{verdicts:?}");
    }

    #[tokio::test]
    async fn without_credentials_the_codecommit_clone_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let server = server(dir.path()).await;
        let err = clone(&server, dir.path(), &policy(false))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("git fetch failed"), "{err}");
        let verdicts = server.http.verdicts();
        assert!(!verdicts.iter().any(|v| v == "ok"), "{verdicts:?}");
    }

    #[tokio::test]
    async fn other_hosts_and_plain_http_to_unlisted_hosts_get_no_credentials() {
        let with = policy(true);
        for url in [
            "https://github.com/acme/app.git",
            "https://git-codecommit.us-east-1.amazonaws.com.evil.example/v1/repos/app",
        ] {
            assert!(
                codecommit_login(url, &with).await.unwrap().is_none(),
                "{url}"
            );
        }
        let unlisted = GitPolicy {
            allow_hosts: Vec::new(),
            ..policy(true)
        };
        let plain = format!("http://{HOST}/v1/repos/app");
        assert!(codecommit_login(&plain, &unlisted).await.unwrap().is_none());
        let secure = format!("https://{HOST}/v1/repos/app");
        let login = codecommit_login(&secure, &unlisted).await.unwrap().unwrap();
        assert_eq!(login.username, "ASIATESTKEY%session/token+1=");
        assert_eq!(format!("{login:?}"), "Login(<redacted>)");
    }

    /// What `git credential fill` answers for `url` when given the helper configuration of `login`, and the
    /// environment a fetch for `login` gets.
    fn fill(login: &Login, url: &str) -> Option<String> {
        let out = std::process::Command::new("git")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "/bin/false")
            .env("CERTUS_GIT_USERNAME", &login.username)
            .env("CERTUS_GIT_PASSWORD", &login.password)
            .args(credential_config(login))
            .args(["credential", "fill"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                let mut stdin = child.stdin.take().unwrap();
                writeln!(stdin, "url={url}\n")?;
                drop(stdin);
                child.wait_with_output()
            })
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    #[tokio::test]
    async fn the_credential_helper_answers_only_for_the_remotes_own_scheme_host_and_port() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("acme"), "bot:tok-123\n").unwrap();
        let policy = GitPolicy {
            credentials_dir: Some(dir.path().to_path_buf()),
            ..GitPolicy::default()
        };
        let login = referenced_login(
            "https://git.example.invalid:8443/acme/app.git",
            "file:acme",
            &policy,
        )
        .await
        .unwrap();
        assert_eq!(login.scope, "https://git.example.invalid:8443");
        assert_eq!(format!("{login:?}"), "Login(<redacted>)");
        let answer = fill(&login, "https://git.example.invalid:8443/acme/app.git").unwrap();
        assert!(answer.contains("username=bot\n"), "{answer}");
        assert!(answer.contains("password=tok-123\n"), "{answer}");
        for other in [
            "https://evil.example.invalid/acme/app.git",
            "https://git.example.invalid/acme/app.git",
            "https://git.example.invalid:9443/acme/app.git",
            "http://git.example.invalid:8443/acme/app.git",
            "https://git.example.invalid.evil.example/acme/app.git",
        ] {
            assert_eq!(fill(&login, other), None, "{other}");
        }
    }

    #[tokio::test]
    async fn referenced_credentials_go_only_over_https_or_to_an_allow_listed_http_host() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "tok-456").unwrap();
        let reference = "file:token";
        let with_dir = |allow_hosts: Vec<String>| GitPolicy {
            allow_hosts,
            credentials_dir: Some(dir.path().to_path_buf()),
            ..GitPolicy::default()
        };
        let open = with_dir(Vec::new());
        let login = referenced_login("https://git.example.invalid/a.git", reference, &open)
            .await
            .unwrap();
        assert_eq!(login.username, "x-access-token");
        assert_eq!(login.password, "tok-456");
        for url in [
            "http://git.example.invalid/a.git",
            "ssh://git@git.example.invalid/a.git",
            "git://git.example.invalid/a.git",
            "/srv/repos/a.git",
        ] {
            let err = referenced_login(url, reference, &open)
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains("git_credentials_ref: "), "{url}: {err}");
            assert!(!err.contains("tok-456"), "{err}");
        }
        let listed = with_dir(vec!["git.example.invalid".into()]);
        let plain = referenced_login("http://git.example.invalid/a.git", reference, &listed)
            .await
            .unwrap();
        assert_eq!(plain.scope, "http://git.example.invalid");
    }
}
