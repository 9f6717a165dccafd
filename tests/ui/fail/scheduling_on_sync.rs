#[taskscope::measure(scheduling)]
fn not_a_future(x: u32) -> u32 {
    x
}

fn main() {
    not_a_future(1);
}
