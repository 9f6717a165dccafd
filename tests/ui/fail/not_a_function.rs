#[taskscope::measure]
struct NotAFunction;

fn main() {}
