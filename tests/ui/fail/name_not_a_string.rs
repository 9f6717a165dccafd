#[taskscope::measure(name = checkout)]
fn f() {}

fn main() {}
