//! What the tests need from outside, installed by the tests themselves on first use, so
//! that `cargo test` passes on a fresh Debian machine with only Rust: Debian's packages with
//! `apt-get` (as root, or through `sudo -n`), PyPI packages into a venv and npm packages
//! into a `node_modules`, both under the target directory. Each is installed once across
//! test binaries (a lock directory, then a marker file).
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Runs `install` once across test binaries and processes, in a directory of its own under
/// the target directory; the directory.
pub fn once(name: &str, install: impl FnOnce(&Path) -> bool) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let marker = root.join("installed");
    let lock = root.join("lock");
    std::fs::create_dir_all(&root).unwrap();
    let deadline = Instant::now() + Duration::from_secs(900);
    let mut install = Some(install);
    while !marker.exists() {
        // One installer at a time: creating a directory is atomic.
        if std::fs::create_dir(&lock).is_ok() {
            if !marker.exists() {
                let ok = (install.take().expect("once"))(&root);
                if ok {
                    std::fs::write(&marker, "").unwrap();
                }
                let _ = std::fs::remove_dir(&lock);
                assert!(ok, "installing {name} failed (see the output above)");
            }
        } else {
            assert!(
                Instant::now() < deadline,
                "waited 900 s for another install of {name}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    root
}

/// Where `binary` is on this machine, if it is.
pub fn find(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin"].map(PathBuf::from))
        .map(|d| d.join(binary))
        .find(|p| p.is_file())
}

/// `binary`, from Debian's `package`, installed with `apt-get` when it is missing.
pub fn debian(package: &str, binary: &str) -> PathBuf {
    if let Some(p) = find(binary) {
        return p;
    }
    apt_install(&[package]);
    find(binary).unwrap_or_else(|| panic!("{package} is installed but {binary} is not on PATH"))
}

/// Installs Debian packages, one installer at a time in this process (test binaries run
/// one after another; dpkg's own lock, waited for, covers the rest).
pub fn apt_install(packages: &[&str]) {
    static APT: Mutex<()> = Mutex::new(());
    let _one = APT.lock().unwrap_or_else(PoisonError::into_inner);
    let root = is_root();
    let apt = |args: &[&str]| -> bool {
        let mut c = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.args(["-n", "apt-get"]);
            c
        };
        c.args(["-o", "DPkg::Lock::Timeout=600", "-qq"])
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    eprintln!("tests: installing Debian's {}", packages.join(", "));
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend_from_slice(packages);
    // A fresh machine may have no package lists yet.
    let ok = apt(&args) || (apt(&["update"]) && apt(&args));
    assert!(
        ok,
        "the tests need Debian's {0}: installing it failed (as root: apt-get install {0})",
        packages.join(" ")
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A venv named `name` under the target directory holding `packages` from PyPI; its
/// Python. Debian's `python3-venv` is installed first when the venv module is missing.
pub fn python_venv(name: &str, packages: &[&str]) -> PathBuf {
    let root = once(name, |root| {
        let python = debian("python3", "python3");
        let venv = root.join("venv");
        let make = || {
            Command::new(&python)
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .is_ok_and(|s| s.success())
        };
        if !make() {
            apt_install(&["python3-venv"]);
            if !make() {
                return false;
            }
        }
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(packages)
            .status()
            .is_ok_and(|s| s.success())
    });
    root.join("venv/bin/python")
}

/// A directory named `name` under the target directory whose `node_modules` holds
/// `packages` from npm; Debian's node and npm are installed first when missing.
pub fn node_modules(name: &str, package_json: &str, packages: &[&str]) -> PathBuf {
    once(name, |root| {
        debian("nodejs", "node");
        let npm = debian("npm", "npm");
        std::fs::write(root.join("package.json"), package_json).is_ok()
            && Command::new(npm)
                .current_dir(root)
                .args(["install", "--silent", "--no-audit", "--no-fund"])
                .args(packages)
                .status()
                .is_ok_and(|s| s.success())
    })
}

/// `node`, installed with the packages of [`node_modules`].
pub fn node() -> PathBuf {
    debian("nodejs", "node")
}
