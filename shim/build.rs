//! Builds `src/variadic.c`: the C-variadic exports (fcntl, fcntl64, ioctl)
//! that Rust cannot define on stable. They forward to fixed-signature Rust
//! functions. Linked whole-archive so the cdylib exports them even though no
//! Rust code references them.

fn main() {
    println!("cargo:rerun-if-changed=src/variadic.c");
    cc::Build::new()
        .file("src/variadic.c")
        .flag_if_supported("-fvisibility=default")
        .link_lib_modifier("+whole-archive")
        .compile("sockshim_variadic");
    let out = std::env::var("OUT_DIR").unwrap();
    let script = format!("{out}/variadic.map");
    std::fs::write(&script, "{ global: fcntl; fcntl64; ioctl; };\n").unwrap();
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={script}");
}
