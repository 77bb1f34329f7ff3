//! Who is calling the admin: sign-in with a password into a session
//! cookie (with its CSRF token for every write), an account's API token,
//! sign-out.

use super::*;

/// The admin page's session cookie.
pub(super) const SESSION_COOKIE: &str = "outpost_cloud";

/// How a caller proved who they are.
#[derive(Debug, Clone)]
pub(super) enum Via {
    /// The page's cookie: writes need its CSRF token.
    Session { token: String, csrf: String },
    /// An account's API token (`Authorization: Bearer`).
    Token,
}

/// A caller that proved who they are.
pub(super) struct Who {
    pub(super) account: Account,
    pub(super) via: Via,
}

impl Who {
    pub(super) fn via(&self) -> &'static str {
        match self.via {
            Via::Session { .. } => "session",
            Via::Token => "token",
        }
    }

    /// A 403 unless the account may do what `right` covers.
    pub(super) fn refused(&self, right: Right, what: &str) -> Option<HttpResponse> {
        if self.account.may(right) {
            return None;
        }
        Some(problem(
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!(
                "the account {} ({}) may not {what}",
                self.account.name,
                self.account.role.as_str()
            ),
        ))
    }

    /// A 404 for a store this account does not see (it is not told the
    /// store exists).
    pub(super) fn hidden(&self, store: &str) -> Option<HttpResponse> {
        if self.account.sees(store) {
            return None;
        }
        Some(problem(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("store {store} not found"),
        ))
    }
}

/// The `csrf` field of a page's form (hex: never percent-encoded).
pub(super) fn form_csrf(body: &[u8]) -> Option<&str> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("csrf="))
}

pub(super) fn unauthenticated() -> HttpResponse {
    problem(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "sign in at /login, or send an account's API token as Authorization: Bearer",
    )
}

/// Who is calling: an account's API token (`Authorization: Bearer`), or
/// the page's session cookie. A write (any method but GET and HEAD) with
/// the cookie must come from this origin and carry the session's CSRF
/// token (`X-CSRF-Token`, or `form_csrf` from a form's `csrf` field):
/// another site's page cannot make one. HTTP Basic is refused.
pub(super) async fn authed(
    req: &HttpRequest,
    state: &AdminState,
    form_csrf: Option<&str>,
) -> Result<Who, HttpResponse> {
    if let Some(auth) = req.headers().get(header::AUTHORIZATION) {
        let Some(t) = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .map(str::to_owned)
        else {
            return Err(unauthenticated());
        };
        return match blocking(&state.db, move |c| admins::by_api_token(c, &t)).await? {
            Some(account) => Ok(Who {
                account,
                via: Via::Token,
            }),
            None => Err(unauthenticated()),
        };
    }
    let Some(token) = req
        .cookie(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|t| !t.is_empty() && t.len() <= 128)
    else {
        return Err(unauthenticated());
    };
    let t = token.clone();
    let Some((account, csrf)) = blocking(&state.db, move |c| admins::session(c, &t)).await? else {
        return Err(unauthenticated());
    };
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        if !outpost_telemetry::headers::same_origin(req) {
            return Err(problem(
                StatusCode::FORBIDDEN,
                "cross-origin",
                "a change must come from this admin's own pages",
            ));
        }
        let given = req
            .headers()
            .get("X-CSRF-Token")
            .and_then(|v| v.to_str().ok())
            .or(form_csrf);
        if !given.is_some_and(|g| same(g, &csrf)) {
            return Err(problem(
                StatusCode::FORBIDDEN,
                "csrf",
                "the page's CSRF token is missing or wrong: reload the page",
            ));
        }
    }
    Ok(Who {
        account,
        via: Via::Session { token, csrf },
    })
}

/// [`authed`] for a page: a browser that is not signed in is sent to the
/// sign-in page.
pub(super) async fn page_authed(
    req: &HttpRequest,
    state: &AdminState,
) -> Result<Who, HttpResponse> {
    authed(req, state, None).await.map_err(|r| {
        if r.status() == StatusCode::UNAUTHORIZED {
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .finish()
        } else {
            r
        }
    })
}

impl Who {
    /// The CSRF token a page shows (none through an API token).
    pub(super) fn csrf(&self) -> &str {
        match &self.via {
            Via::Session { csrf, .. } => csrf,
            Via::Token => "",
        }
    }
}

/// The sign-in page.
pub(super) async fn login_page() -> HttpResponse {
    login_form(None)
}

pub(super) fn login_form(said: Option<&str>) -> HttpResponse {
    let mut res = layout(
        "Sign in · Outpost cloud",
        None,
        html! {
            h1 { "Outpost cloud" }
            @if let Some(s) = said { p.bad { (s) } }
            form method="post" action="/login" {
                p { label { "Name " input name="name" autocomplete="username" maxlength="64" required autofocus; } }
                p { label { "Password " input type="password" name="password" autocomplete="current-password" maxlength="256" required; } }
                button { "Sign in" }
            }
        },
    );
    if said.is_some() {
        *res.status_mut() = StatusCode::UNAUTHORIZED;
    }
    res
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SignIn {
    pub(super) name: String,
    pub(super) password: String,
}

/// Signs in: the session in an `HttpOnly`, `SameSite=Strict` cookie
/// (`Secure` over TLS), then back to the page. A wrong name or password,
/// or a locked account, says so and sets nothing.
pub(super) async fn login(
    req: HttpRequest,
    state: web::Data<AdminState>,
    form: web::Form<SignIn>,
) -> HttpResponse {
    if !outpost_telemetry::headers::same_origin(&req) {
        return problem(
            StatusCode::FORBIDDEN,
            "cross-origin",
            "sign in on this admin's own page",
        );
    }
    let SignIn { name, password } = form.into_inner();
    let r = blocking(&state.db, move |c| admins::sign_in(c, &name, &password)).await;
    match r {
        Ok(Ok(token)) => {
            let cookie = actix_web::cookie::Cookie::build(SESSION_COOKIE, token)
                .http_only(true)
                .same_site(actix_web::cookie::SameSite::Strict)
                .secure(req.app_config().secure())
                .path("/")
                .max_age(actix_web::cookie::time::Duration::milliseconds(
                    admins::SESSION_MS,
                ))
                .finish();
            HttpResponse::SeeOther()
                .cookie(cookie)
                .insert_header((header::LOCATION, "/"))
                .finish()
        }
        // The same answer for both: it tells no one which names exist.
        Ok(Err(_)) => login_form(Some(
            "Wrong name or password. After 10 wrong passwords an account is locked for 15 minutes.",
        )),
        Err(r) => r,
    }
}

/// Signs out (the form's CSRF token), and drops the cookie.
pub(super) async fn logout(
    req: HttpRequest,
    state: web::Data<AdminState>,
    body: web::Bytes,
) -> HttpResponse {
    let who = match authed(&req, &state, form_csrf(&body)).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    if let Via::Session { token, .. } = &who.via {
        let (t, name) = (token.clone(), who.account.name.clone());
        if let Err(r) = blocking(&state.db, move |c| admins::sign_out(c, &t, &name)).await {
            return r;
        }
    }
    let gone = actix_web::cookie::Cookie::build(SESSION_COOKIE, "")
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Strict)
        .path("/")
        .max_age(actix_web::cookie::time::Duration::ZERO)
        .finish();
    HttpResponse::SeeOther()
        .cookie(gone)
        .insert_header((header::LOCATION, "/login"))
        .finish()
}
