#[taskscope::measure]
async fn wrong_type() -> u32 {
    "not a number"
}

#[taskscope::measure]
fn wrong_type_sync() -> u32 {
    let x: u32 = "no";
    x
}

fn main() {}
