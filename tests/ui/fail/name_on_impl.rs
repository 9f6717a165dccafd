struct S;

#[taskscope::measure(name = "s")]
impl S {
    fn f(&self) {}
}

fn main() {}
