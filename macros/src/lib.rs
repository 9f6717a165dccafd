//! Procedural macros for [taskscope](https://docs.rs/taskscope): `#[measure]` and
//! `#[derive(ErrorKind)]`. Use them through the `taskscope` crate, which re-exports them;
//! the expansions refer to `::taskscope::__private`.

mod error_kind;
mod expand;
mod options;

use proc_macro::TokenStream;
use quote::quote;
use syn::Item;

use options::Options;

/// Measures every call of a function, or of every method of an impl block. See
/// `taskscope::measure` for the options and the rules.
#[proc_macro_attribute]
pub fn measure(args: TokenStream, input: TokenStream) -> TokenStream {
    if cfg!(feature = "disabled") {
        return bare(input);
    }
    let options = match syn::parse::<Options>(args) {
        Ok(o) => o,
        Err(e) => return with_error(e, input),
    };
    let item = match syn::parse::<Item>(input.clone()) {
        Ok(item) => item,
        // Not valid Rust: hand it back untouched so rustc reports the user's own error.
        Err(_) => return input,
    };
    let result = match item {
        Item::Fn(f) => expand::item_fn(f, &options),
        Item::Impl(i) => expand::impl_block(i, &options),
        Item::Verbatim(tokens) if looks_like_bodyless_fn(&tokens) => Err(syn::Error::new_spanned(
            tokens,
            "#[measure] needs a function body: put it on the implementation, not the declaration",
        )),
        other => Err(syn::Error::new_spanned(
            item_keyword(&other),
            "#[measure] goes on a function (`fn` or `async fn`) or an `impl` block",
        )),
    };
    match result {
        Ok(tokens) => tokens.into(),
        Err(e) => with_error(e, input),
    }
}

/// The item as written, minus the method attributes a measured impl block consumes.
fn bare(input: TokenStream) -> TokenStream {
    match syn::parse::<Item>(input.clone()) {
        Ok(Item::Impl(mut block)) => {
            for item in &mut block.items {
                if let syn::ImplItem::Fn(method) = item {
                    method.attrs.retain(|a| !expand::is_measure_attr(a));
                }
            }
            quote!(#block).into()
        }
        _ => input,
    }
}

/// The original item, plus one targeted error.
fn with_error(error: syn::Error, input: TokenStream) -> TokenStream {
    let error = error.to_compile_error();
    let input = proc_macro2::TokenStream::from(input);
    quote!(#error #input).into()
}

fn looks_like_bodyless_fn(tokens: &proc_macro2::TokenStream) -> bool {
    let s = tokens.to_string();
    s.contains("fn ") && s.trim_end().ends_with(';')
}

/// The tokens an error about a whole item should point at: its first tokens, not its body.
fn item_keyword(item: &Item) -> proc_macro2::TokenStream {
    use quote::ToTokens;
    item.to_token_stream().into_iter().take(2).collect()
}

/// Derives `taskscope::ErrorKind`: the variant's name for an enum (rename one with
/// `#[error_kind("name")]`), the type's name for a struct.
#[proc_macro_derive(ErrorKind, attributes(error_kind))]
pub fn derive_error_kind(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    match error_kind::derive(input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}
