#[taskscope::measure(label = "x")]
fn f() {}

fn main() {}
