//! What `#[measure]` expands a function or an impl block to.

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Attribute, Block, Expr, ImplItem, ItemFn, ItemImpl, LitStr, ReturnType, Signature, Stmt, Type,
    TypeParamBound,
};

use crate::options::{KindOption, Options, Predicate};

/// How a function's call is delimited.
#[derive(Clone, Copy)]
enum Shape {
    /// `async fn`: the call is the future.
    Async,
    /// Returns `impl Future`: the call is the returned future.
    ReturnsFuture,
    /// Returns a boxed future (`Pin<Box<dyn Future>>`, `BoxFuture`), as `#[async_trait]`
    /// methods do: the call is the boxed future.
    Boxed,
    /// A plain function: the call is its execution.
    Sync,
}

/// Expands one function. `default_name` is `Type::method` inside a measured impl block.
pub(crate) fn function(
    attrs: &[Attribute],
    vis: TokenStream,
    sig: &Signature,
    block: &Block,
    options: &Options,
    default_name: Option<String>,
) -> syn::Result<TokenStream> {
    refuse_unmeasurable(sig)?;
    let (outer, inner): (Vec<&Attribute>, Vec<&Attribute>) = attrs
        .iter()
        .partition(|a| matches!(a.style, syn::AttrStyle::Outer));
    if options.skip.is_some() {
        let stmts = &block.stmts;
        return Ok(quote!(#(#outer)* #vis #sig { #(#inner)* #(#stmts)* }));
    }
    let name = match (&options.name, default_name) {
        (Some(lit), _) => lit.clone(),
        (None, Some(n)) => LitStr::new(&n, sig.ident.span()),
        (None, None) => LitStr::new(&sig.ident.unraw_string(), sig.ident.span()),
    };
    let span_name = span_name(attrs, sig);
    let callsite = quote! {
        static __TASKSCOPE_CALLSITE: ::taskscope::__private::Callsite =
            ::taskscope::__private::Callsite::new(
                #name, ::core::module_path!(), ::core::file!(), ::core::line!()
            ).with_span_name(#span_name);
    };
    let verdict = verdict(options);
    let shape = shape(sig);
    if let (Some(span), Shape::Sync, false) =
        (options.scheduling, shape, options.scheduling_from_block)
    {
        return Err(syn::Error::new(
            span,
            "`scheduling` records the wait between a wake and the next poll: it needs an async function (or one that returns a future)",
        ));
    }
    let wrapper = if options.scheduling.is_some() {
        quote!(::taskscope::__private::Scheduled)
    } else {
        quote!(::taskscope::__private::Measured)
    };
    let body = match shape {
        Shape::Async => async_body(sig, block, &callsite, &record(&wrapper, &verdict)),
        Shape::ReturnsFuture => {
            let record = record(&wrapper, &verdict);
            quote_spanned! {block.span()=>
                #callsite
                #[allow(clippy::redundant_closure_call)]
                let __ts_inner = (move || #block)();
                async move { #record }
            }
        }
        Shape::Boxed => boxed_body(sig, block, &callsite, &record(&wrapper, &verdict)),
        Shape::Sync => sync_body(sig, block, &callsite, &verdict),
    };
    Ok(quote! {
        #(#outer)* #vis #sig {
            #(#inner)*
            #body
        }
    })
}

/// A `const fn` or a variadic function cannot be measured: the error says why.
fn refuse_unmeasurable(sig: &Signature) -> syn::Result<()> {
    if let Some(c) = &sig.constness {
        return Err(syn::Error::new(
            c.span(),
            "#[measure] cannot measure a `const fn`: it may run at compile time, where there is no clock; remove `const` or the attribute",
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(
            v.span(),
            "#[measure] cannot measure a variadic function",
        ));
    }
    Ok(())
}

/// Awaits `__ts_inner` as a measured call: with recording off, the bare future plus one
/// relaxed load.
fn record(wrapper: &TokenStream, verdict: &TokenStream) -> TokenStream {
    quote! {
        if !::taskscope::__private::enabled() {
            return __ts_inner.await;
        }
        let (__ts_out, __ts_done) =
            #wrapper::new(&__TASKSCOPE_CALLSITE, __ts_inner).await;
        __ts_done.finish(#verdict);
        __ts_out
    }
}

/// An `async fn`: the body's future is built in place by `pin!` and measured through a
/// `Pin<&mut _>`, so a future holding a large state is never moved and costs no stack
/// beyond what the bare function costs (no copy through `Measured::new`). The unreachable
/// early return fixes the block's output type, so `?` in the body converts errors into the
/// declared error type.
fn async_body(
    sig: &Signature,
    block: &Block,
    callsite: &TokenStream,
    record: &TokenStream,
) -> TokenStream {
    let ret = return_type(&sig.output);
    let ret_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    };
    let fix_output = (!contains_impl(&ret)).then(|| quote_spanned! {ret_span=>
        #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::empty_loop, clippy::needless_return, clippy::let_unit_value)]
        if false {
            let __ts_never: #ret = loop {};
            return __ts_never;
        }
    });
    let stmts = &block.stmts;
    quote_spanned! {block.span()=>
        #callsite
        let __ts_inner = ::core::pin::pin!(async move { #fix_output #(#stmts)* });
        #record
    }
}

/// A function returning a boxed future. When `#[async_trait]` made the body
/// `Box::pin(async move { .. })`, that block is measured in place, so the call costs no
/// second allocation.
fn boxed_body(
    sig: &Signature,
    block: &Block,
    callsite: &TokenStream,
    record: &TokenStream,
) -> TokenStream {
    match async_trait_body(block) {
        Some((pin, inner)) => quote_spanned! {block.span()=>
            #callsite
            #pin(async move {
                let __ts_inner = #inner;
                #record
            })
        },
        None => {
            let ret = return_type(&sig.output);
            quote_spanned! {block.span()=>
                #callsite
                #[allow(clippy::redundant_closure_call)]
                let __ts_inner = (move || -> #ret #block)();
                ::std::boxed::Box::pin(async move { #record })
            }
        }
    }
}

/// A plain function: its body runs in a closure between the start and the end of the call.
fn sync_body(
    sig: &Signature,
    block: &Block,
    callsite: &TokenStream,
    verdict: &TokenStream,
) -> TokenStream {
    let ret = return_type(&sig.output);
    let closure = if contains_impl(&ret) {
        quote!(move || #block)
    } else {
        quote!(move || -> #ret #block)
    };
    quote_spanned! {block.span()=>
        #callsite
        let __ts_call = ::taskscope::__private::SyncCall::start(&__TASKSCOPE_CALLSITE);
        #[allow(clippy::redundant_closure_call, clippy::let_unit_value)]
        let __ts_out = (#closure)();
        if let ::core::option::Option::Some(__ts_done) = __ts_call.end() {
            __ts_done.finish(#verdict);
        }
        __ts_out
    }
}

/// The expression that classifies `__ts_out`.
fn verdict(options: &Options) -> TokenStream {
    let classified = quote!(::taskscope::__classify!(&__ts_out));
    let kind = match &options.error_kind {
        Some(KindOption::Fixed(lit)) => quote!(#lit),
        Some(KindOption::Computed(f)) => quote_spanned! {f.span()=>
            {
                let __ts_kind_of = #f;
                __ts_kind_of(&__ts_out)
            }
        },
        // A predicate called it an error: the value's own kind if it has one, else its type.
        None => quote! {
            match #classified {
                ::taskscope::__private::Classified::Error(k) => k,
                ::taskscope::__private::Classified::Ok => ::taskscope::__private::type_kind(&__ts_out),
            }
        },
    };
    let ok = quote!(::taskscope::__private::Classified::Ok);
    let error = quote!(::taskscope::__private::Classified::Error(#kind));
    match (&options.predicate, &options.error_kind) {
        (Some(Predicate::OkIf(f)), _) => quote_spanned! {f.span()=>
            {
                let __ts_predicate = #f;
                if __ts_predicate(&__ts_out) { #ok } else { #error }
            }
        },
        (Some(Predicate::ErrorIf(f)), _) => quote_spanned! {f.span()=>
            {
                let __ts_predicate = #f;
                if __ts_predicate(&__ts_out) { #error } else { #ok }
            }
        },
        (None, None) => classified,
        (None, Some(_)) => quote! {
            match #classified {
                ::taskscope::__private::Classified::Ok => #ok,
                ::taskscope::__private::Classified::Error(_) => #error,
            }
        },
    }
}

fn return_type(output: &ReturnType) -> TokenStream {
    match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    }
}

/// True when the type mentions `impl Trait`, which cannot be named in a turbofish or a
/// closure's return type.
fn contains_impl(tokens: &TokenStream) -> bool {
    tokens.clone().into_iter().any(|tt| match tt {
        TokenTree::Ident(i) => i == "impl",
        TokenTree::Group(g) => contains_impl(&g.stream()),
        _ => false,
    })
}

fn shape(sig: &Signature) -> Shape {
    if sig.asyncness.is_some() {
        return Shape::Async;
    }
    let ReturnType::Type(_, ty) = &sig.output else {
        return Shape::Sync;
    };
    match &**ty {
        Type::ImplTrait(t) if t.bounds.iter().any(is_future_bound) => Shape::ReturnsFuture,
        Type::Path(p) => {
            let Some(last) = p.path.segments.last() else {
                return Shape::Sync;
            };
            if last.ident == "BoxFuture" || last.ident == "LocalBoxFuture" {
                return Shape::Boxed;
            }
            // Pin<Box<dyn Future<..> + ..>>
            if last.ident == "Pin" && mentions_dyn_future(&last.arguments.to_token_stream()) {
                return Shape::Boxed;
            }
            Shape::Sync
        }
        _ => Shape::Sync,
    }
}

fn is_future_bound(bound: &TypeParamBound) -> bool {
    matches!(bound, TypeParamBound::Trait(t)
        if t.path.segments.last().is_some_and(|s| s.ident == "Future"))
}

fn mentions_dyn_future(tokens: &TokenStream) -> bool {
    let mut saw_dyn = false;
    tokens.clone().into_iter().any(|tt| match tt {
        TokenTree::Ident(i) if i == "dyn" => {
            saw_dyn = true;
            false
        }
        TokenTree::Ident(i) => saw_dyn && i == "Future",
        TokenTree::Group(g) => mentions_dyn_future(&g.stream()),
        _ => false,
    })
}

/// Recognises the body `#[async_trait]` generates, `{ Box::pin(async move { .. }) }`, and
/// returns the `Box::pin` path and the async block.
fn async_trait_body(block: &Block) -> Option<(TokenStream, TokenStream)> {
    let [Stmt::Expr(Expr::Call(call), None)] = block.stmts.as_slice() else {
        return None;
    };
    let Expr::Path(func) = &*call.func else {
        return None;
    };
    let segs: Vec<String> = func
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    if segs.len() < 2 || segs[segs.len() - 2] != "Box" || segs[segs.len() - 1] != "pin" {
        return None;
    }
    let args: Vec<&Expr> = call.args.iter().collect();
    let [arg @ Expr::Async(_)] = args.as_slice() else {
        return None;
    };
    Some((func.to_token_stream(), arg.to_token_stream()))
}

/// The name of the span that `#[tracing::instrument]` would give this function: its
/// `name = "..."` argument when an `instrument` attribute on the function has one, else the
/// function's own name. The taskscope layer skips spans of that name in the function's
/// module, so a function with both attributes is counted once, by `#[measure]`.
fn span_name(attrs: &[Attribute], sig: &Signature) -> LitStr {
    let renamed = attrs
        .iter()
        .filter(|a| {
            a.path()
                .segments
                .last()
                .is_some_and(|s| s.ident == "instrument")
        })
        .find_map(|a| match &a.meta {
            syn::Meta::List(list) => name_argument(list.tokens.clone()),
            _ => None,
        });
    renamed.unwrap_or_else(|| LitStr::new(&sig.ident.unraw_string(), sig.ident.span()))
}

/// `name = "..."` at the top level of an attribute's arguments.
fn name_argument(tokens: TokenStream) -> Option<LitStr> {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    tokens.windows(3).find_map(|w| match w {
        [
            TokenTree::Ident(i),
            TokenTree::Punct(p),
            TokenTree::Literal(l),
        ] if i == "name" && p.as_char() == '=' => syn::parse2::<LitStr>(l.to_token_stream()).ok(),
        _ => None,
    })
}

/// True for `#[measure]`, `#[taskscope::measure]` and `#[::taskscope::measure]`.
pub(crate) fn is_measure_attr(attr: &Attribute) -> bool {
    let segs: Vec<String> = attr
        .path()
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    matches!(segs.as_slice(), [m] if m == "measure")
        || matches!(segs.as_slice(), [t, m] if t == "taskscope" && m == "measure")
}

/// Expands an impl block: every method measured as `Type::method`, except `const fn`s and
/// those marked `#[measure(skip)]`. A method's own `#[measure(...)]` options win.
pub(crate) fn impl_block(mut item: ItemImpl, options: &Options) -> syn::Result<TokenStream> {
    if let Some(name) = &options.name {
        return Err(syn::Error::new(
            name.span(),
            "`name` names one function: on an impl block, put #[measure(name = \"...\")] on the method",
        ));
    }
    if let Some(span) = options.skip {
        return Err(syn::Error::new(
            span,
            "`skip` goes on a method inside a measured impl block",
        ));
    }
    let type_name = type_name(&item.self_ty);
    let mut errors: Option<syn::Error> = None;
    for impl_item in &mut item.items {
        let ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let mut method_options: Option<Options> = None;
        let mut kept = Vec::with_capacity(method.attrs.len());
        for attr in method.attrs.drain(..) {
            if is_measure_attr(&attr) {
                let parsed = match &attr.meta {
                    syn::Meta::Path(_) => Ok(Options::default()),
                    _ => attr.parse_args::<Options>(),
                };
                match parsed {
                    Ok(o) => method_options = Some(o),
                    Err(e) => push_error(&mut errors, e),
                }
            } else {
                kept.push(attr);
            }
        }
        method.attrs = kept;
        let method_options = method_options.unwrap_or_default().or(options);
        if method.sig.constness.is_some() && method_options.skip.is_none() {
            // A const fn in a measured block is left as it is; measuring one alone is an error.
            continue;
        }
        let default_name = format!("{type_name}::{}", method.sig.ident.unraw_string());
        let vis = method.vis.to_token_stream();
        let defaultness = method
            .modifiers
            .defaultness
            .map(|d| d.to_token_stream())
            .unwrap_or_default();
        match function(
            &method.attrs,
            quote!(#vis #defaultness),
            &method.sig,
            &method.block,
            &method_options,
            Some(default_name),
        ) {
            Ok(tokens) => *impl_item = ImplItem::Verbatim(tokens),
            Err(e) => push_error(&mut errors, e),
        }
    }
    match errors {
        Some(e) => Err(e),
        None => Ok(item.into_token_stream()),
    }
}

fn push_error(errors: &mut Option<syn::Error>, e: syn::Error) {
    match errors {
        Some(all) => all.combine(e),
        None => *errors = Some(e),
    }
}

/// The short name of an impl's type: the last path segment without generics.
fn type_name(ty: &Type) -> String {
    match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map_or_else(|| "Self".to_owned(), |s| s.ident.unraw_string()),
        Type::Reference(r) => type_name(&r.elem),
        Type::Group(g) => type_name(&g.elem),
        Type::Paren(p) => type_name(&p.elem),
        other => other.to_token_stream().to_string().replace(' ', ""),
    }
}

trait UnrawString {
    fn unraw_string(&self) -> String;
}

impl UnrawString for syn::Ident {
    fn unraw_string(&self) -> String {
        let s = self.to_string();
        s.strip_prefix("r#").map(str::to_owned).unwrap_or(s)
    }
}

/// Expands a free function item.
pub(crate) fn item_fn(item: ItemFn, options: &Options) -> syn::Result<TokenStream> {
    let vis = item.vis.to_token_stream();
    function(&item.attrs, vis, &item.sig, &item.block, options, None)
}

#[cfg(test)]
mod tests {
    //! What the expansion hands to taskscope: only the callsite and the call's outcome,
    //! never an argument. The arguments stay in the user's body, which taskscope polls
    //! or calls but never reads.

    use super::*;
    use proc_macro2::{Delimiter, TokenTree};
    use quote::quote;

    const ARGUMENTS: [&str; 4] = ["user", "password", "secret", "token"];

    /// Every parenthesised group that follows a `__private` path or `.finish`: the values
    /// the expansion passes to taskscope.
    fn handed_to_taskscope(tokens: TokenStream, out: &mut Vec<TokenStream>) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, tree) in trees.iter().enumerate() {
            match tree {
                TokenTree::Ident(id) if id == "__private" || id == "finish" => {
                    let call = trees[i + 1..].iter().find_map(|t| match t {
                        TokenTree::Group(g) if g.delimiter() == Delimiter::Parenthesis => {
                            Some(g.stream())
                        }
                        _ => None,
                    });
                    out.extend(call);
                }
                TokenTree::Group(g) => handed_to_taskscope(g.stream(), out),
                _ => {}
            }
        }
    }

    fn mentions_an_argument(tokens: &TokenStream) -> Option<String> {
        tokens.clone().into_iter().find_map(|t| match t {
            TokenTree::Ident(id) if ARGUMENTS.iter().any(|a| id == a) => Some(id.to_string()),
            TokenTree::Group(g) => mentions_an_argument(&g.stream()),
            _ => None,
        })
    }

    #[track_caller]
    fn assert_no_argument_reaches_taskscope(expansion: TokenStream) {
        let text = expansion.to_string();
        assert!(text.contains("password"), "the body is kept: {text}");
        let mut calls = Vec::new();
        handed_to_taskscope(expansion, &mut calls);
        assert!(
            calls.len() >= 2,
            "the callsite and the outcome are handed over: {text}"
        );
        for call in calls {
            if let Some(arg) = mentions_an_argument(&call) {
                panic!("the argument `{arg}` is passed to taskscope in ({call}):\n{text}");
            }
        }
    }

    fn options(tokens: TokenStream) -> Options {
        syn::parse2(tokens).unwrap()
    }

    #[test]
    fn functions_hand_taskscope_no_argument() {
        let functions = [
            quote! {
                async fn login(user: &str, password: String) -> Result<u32, LoginError> {
                    check(user, &password).await
                }
            },
            quote! {
                fn hash(password: &str, secret: u64) -> Result<String, HashError> {
                    derive(password, secret)
                }
            },
            quote! {
                fn lookup(token: &str, password: &str) -> Option<u32> {
                    table().get(token).filter(|_| !password.is_empty()).copied()
                }
            },
            quote! {
                fn auth<'a>(&'a self, password: &'a str)
                    -> Pin<Box<dyn Future<Output = Result<(), AuthError>> + Send + 'a>>
                {
                    Box::pin(async move { let password = password; self.check(password).await })
                }
            },
            quote! {
                fn later(password: String) -> impl Future<Output = Result<(), AuthError>> {
                    async move { check(&password).await }
                }
            },
        ];
        for opts in [
            quote!(),
            quote!(name = "login_named"),
            quote!(error_kind = classify),
            quote!(ok_if = |r| r.is_ok()),
        ] {
            for f in &functions {
                let item: ItemFn = syn::parse2(f.clone()).unwrap();
                let expansion = item_fn(item, &options(opts.clone())).unwrap();
                assert_no_argument_reaches_taskscope(expansion);
            }
        }
    }

    #[test]
    fn methods_of_a_measured_impl_block_hand_taskscope_no_argument() {
        let block: ItemImpl = syn::parse2(quote! {
            impl Vault {
                async fn open(&self, password: &str) -> Result<Key, VaultError> {
                    self.derive(password).await
                }
                fn rotate(&mut self, secret: u64, token: &str) -> Option<u64> {
                    self.keys.insert(token.into(), secret)
                }
                fn seal(self, password: String) -> Result<(), VaultError> {
                    self.store(password)
                }
            }
        })
        .unwrap();
        assert_no_argument_reaches_taskscope(impl_block(block, &Options::default()).unwrap());
    }
}
