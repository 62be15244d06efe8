//! A git smart-HTTP server on loopback for tests of authenticated clones: `git http-backend` (CGI) behind a
//! small Python bridge. Each request is judged by the test's own `authorise(header)` — Python source
//! returning `"ok"`, `"bad"` or `"none"` for the request's `Authorization` header — and answered 401 unless
//! `"ok"`; the log keeps only those verdicts, never a credential.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::KillOnDrop;

/// The bridge, after the test's `authorise`: argv `root port_file log prefix`; `/<prefix>/<name>` serves the
/// bare repository `<root>/<name>`.
const BRIDGE: &str = r#"
root, port_file, log, prefix = sys.argv[1:5]
class H(http.server.BaseHTTPRequestHandler):
    def handle_one(self):
        verdict = authorise(self.headers.get("Authorization", ""))
        with open(log, "a") as f:
            f.write(verdict + "\n")
        if verdict != "ok":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1", PATH_INFO=path[len(prefix):],
                   QUERY_STRING=query, REQUEST_METHOD=self.command, REMOTE_USER="git",
                   REMOTE_ADDR="127.0.0.1", CONTENT_TYPE=self.headers.get("Content-Type", ""),
                   CONTENT_LENGTH=str(len(body)))
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, rest = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(": ")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        self.wfile.write(rest)
    do_GET = do_POST = handle_one
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
"#;

/// The server; stopped when dropped.
pub struct GitHttpServer {
    _process: KillOnDrop,
    pub port: u16,
    log: PathBuf,
}

impl GitHttpServer {
    /// Serves the bare repositories under `repos` at `http://127.0.0.1:<port><prefix>/<name>`, judging each
    /// request with `authorise` (Python source defining `authorise(header)`; `base64`, `hashlib`, `hmac`,
    /// `os` and `sys` are imported). Its script, port file and log live in `scratch`.
    pub fn start(scratch: &Path, repos: &Path, prefix: &str, authorise: &str) -> Self {
        let script = scratch.join("git-http-server.py");
        let source = format!(
            "import base64, hashlib, hmac, http.server, os, subprocess, sys\n{authorise}\n{BRIDGE}"
        );
        std::fs::write(&script, source)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", script.display()));
        let port_file = scratch.join("git-http-server.port");
        let log = scratch.join("git-http-server.log");
        let child = Command::new("python3")
            .arg(&script)
            .arg(repos)
            .arg(&port_file)
            .arg(&log)
            .arg(prefix)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 does not run: {e}"));
        let process = KillOnDrop(child);
        let port = crate::port_from_file(&port_file, "the git smart-HTTP server");
        Self {
            _process: process,
            port,
            log,
        }
    }

    /// The verdicts of the requests so far, in order.
    pub fn verdicts(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}
