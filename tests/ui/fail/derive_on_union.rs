#[derive(taskscope::ErrorKind)]
union U {
    a: u32,
}

fn main() {}
