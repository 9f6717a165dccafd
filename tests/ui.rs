//! Compile-time behaviour of the macros: every supported form compiles without warnings,
//! every unsupported one fails with one targeted error (`.stderr` snapshots).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
