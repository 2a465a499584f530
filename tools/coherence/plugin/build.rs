// SPDX-License-Identifier: GPL-2.0
//! Checks that the QEMU this plugin is for speaks the plugin API version
//! the crate is built for (feature plugin-api-v4 of qemu-plugin): it
//! builds a probe plugin that asks for an impossible version and reads
//! QEMU's refusal, which names the range QEMU supports.
//!
//! COHERENCE_QEMU names the QEMU binary (default qemu-system-x86_64 on
//! PATH); COHERENCE_SKIP_QEMU_CHECK=1 skips the check (e.g. for clippy on
//! a machine without QEMU).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The crate's feature: plugin-api-v4 (QEMU 9.2 to 10.0 speak up to 4).
const API: u32 = 4;

fn fail(msg: &str) -> ! {
    eprintln!("\nerror: coherence plugin: {msg}\n");
    std::process::exit(1);
}

fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// QEMU's answer to a plugin asking for API `version`.
fn probe(qemu: &Path, out: &Path, version: u32) -> String {
    let src = out.join(format!("probe{version}.c"));
    let so = out.join(format!("probe{version}.so"));
    std::fs::write(
        &src,
        format!(
            "int qemu_plugin_version = {version};\n\
             int qemu_plugin_install(void *id, const void *info, int argc, char **argv)\n\
             {{ return -1; }}\n"
        ),
    )
    .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", src.display())));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let st = Command::new(&cc)
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run {cc} for the QEMU API probe: {e}")));
    if !st.success() {
        fail(&format!("{cc} failed to build the QEMU API probe"));
    }
    let system = qemu
        .file_name()
        .is_some_and(|n| n.to_string_lossy().contains("-system-"));
    let mut cmd = Command::new(qemu);
    if system {
        cmd.args(["-M", "none", "-display", "none", "-nodefaults"]);
    }
    cmd.arg("-plugin").arg(&so);
    if !system {
        cmd.arg("/bin/true"); // linux-user: a program to run
    }
    let o = cmd
        .output()
        .unwrap_or_else(|e| fail(&format!("cannot run {}: {e}", qemu.display())));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The number after `marker` in QEMU's message.
fn number_after(msg: &str, marker: &str) -> Option<u32> {
    let rest = &msg[msg.find(marker)? + marker.len()..];
    rest.trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=COHERENCE_QEMU");
    println!("cargo:rerun-if-env-changed=COHERENCE_SKIP_QEMU_CHECK");
    if std::env::var("COHERENCE_SKIP_QEMU_CHECK").as_deref() == Ok("1") {
        println!(
            "cargo:warning=COHERENCE_SKIP_QEMU_CHECK=1: QEMU's plugin API version not checked"
        );
        return;
    }
    let name = std::env::var("COHERENCE_QEMU").unwrap_or_else(|_| "qemu-system-x86_64".into());
    let Some(qemu) = which(&name).filter(|p| p.is_file()) else {
        fail(&format!(
            "{name} not found (set COHERENCE_QEMU to the QEMU binary the plugin is for, \
             or COHERENCE_SKIP_QEMU_CHECK=1)"
        ));
    };
    println!("cargo:rerun-if-changed={}", qemu.display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let hi = probe(&qemu, &out, 9999);
    if hi.contains("unknown option") || hi.contains("invalid option") {
        // Debian's qemu-user is static: no dlopen, no plugins.
        fail(&format!(
            "{} has no plugin support (-plugin is unknown): {}",
            qemu.display(),
            hi.trim()
        ));
    }
    let Some(max) = number_after(&hi, "only up to version") else {
        fail(&format!(
            "cannot tell the plugin API version of {}: it answered {:?}",
            qemu.display(),
            hi.trim()
        ));
    };
    let min = number_after(&probe(&qemu, &out, 0), "minimum version of").unwrap_or(0);
    if !(min..=max).contains(&API) {
        fail(&format!(
            "{} speaks plugin API versions {min} to {max}; this plugin is built for version {API} \
             (qemu-plugin's feature plugin-api-v{API}, for QEMU 9.2 to 10.0): change the feature \
             in Cargo.toml to plugin-api-v{max} and adapt the code",
            qemu.display()
        ));
    }
    println!(
        "cargo:rustc-env=COHERENCE_QEMU_API={API} ({} speaks {min}..={max})",
        qemu.display()
    );
}
