//! The smallest taskscope program: measure two functions, print the report.
//! `cargo run --example quickstart`

#[taskscope::measure]
async fn fetch(id: u32) -> Result<String, std::io::Error> {
    tokio::time::sleep(std::time::Duration::from_millis(u64::from(id % 5))).await;
    if id.is_multiple_of(10) {
        return Err(std::io::ErrorKind::NotFound.into());
    }
    Ok(format!("item {id}"))
}

#[taskscope::measure]
fn parse(text: &str) -> Option<u32> {
    text.strip_prefix("item ")?.parse().ok()
}

#[tokio::main]
async fn main() {
    for id in 1..=50 {
        if let Ok(text) = fetch(id).await {
            parse(&text);
        }
    }
    print!("{}", taskscope::report()); // calls, ok, errors, cancelled, panicked, p50, p99, max
}
