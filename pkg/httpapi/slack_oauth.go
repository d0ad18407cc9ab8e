package httpapi

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/slackoauth"
)

// Slack's "Add to Slack" round trip (see docs/slack.md). The end user's
// browser opens the first two routes, so they take no API key; their
// failures are pages for people (or a redirect to the integration's
// redirectUrl), while API clients get Novu's error shape.

func (s *Server) registerSlackOAuth(v1, api *echo.Group) {
	const base = "/subscribers/:subscriberId/credentials/slack"
	v1.GET(base+"/oauth", s.slackOAuth, s.slackOAuthOutcome)
	v1.GET(base+"/oauth/callback", s.slackOAuthCallback, s.slackOAuthOutcome)
	api.GET(base+"/oauth-url", s.slackOAuthURL)
}

// slackOAuth is the shareable URL: it redirects to Slack's authorize page.
// When Slack redirects straight back to it with a code (Novu's setup), it
// acts as the callback.
func (s *Server) slackOAuth(c echo.Context) error {
	if isSlackReturn(c) {
		return s.slackOAuthCallback(c)
	}
	q := c.QueryParams()
	to, err := s.SlackOAuth.Start(c.Request().Context(), slackoauth.StartRequest{
		SubscriberID: subscriberParam(c), EnvironmentID: q.Get("environmentId"),
		IntegrationIdentifier: q.Get("integrationIdentifier"), HMACHash: q.Get("hmacHash"),
	})
	if err != nil {
		return err
	}
	privateHeaders(c)
	return c.Redirect(http.StatusFound, to)
}

// slackOAuthCallback is where Slack sends the browser back.
func (s *Server) slackOAuthCallback(c echo.Context) error {
	q := c.QueryParams()
	ctx := c.Request().Context()
	sub := subscriberParam(c)
	code := secret.String(q.Get("code"))
	var res *slackoauth.Result
	var err error
	if q.Get("state") == "" && (!code.Empty() || q.Get("error") != "") {
		res, err = s.SlackOAuth.LegacyCallback(ctx, slackoauth.LegacyRequest{
			StartRequest: slackoauth.StartRequest{
				SubscriberID: sub, EnvironmentID: q.Get("environmentId"),
				IntegrationIdentifier: q.Get("integrationIdentifier"), HMACHash: q.Get("hmacHash"),
			},
			Code: code, Error: q.Get("error"),
			Path: c.Request().URL.EscapedPath(), RawQuery: c.Request().URL.RawQuery,
		})
	} else {
		res, err = s.SlackOAuth.Callback(ctx, slackoauth.CallbackRequest{
			SubscriberID: sub, State: q.Get("state"), Code: code, Error: q.Get("error"),
		})
	}
	if err != nil {
		return err
	}
	privateHeaders(c)
	if res.RedirectURL != "" {
		return c.Redirect(http.StatusFound, withStatus(res.RedirectURL, url.Values{"status": {"success"}}))
	}
	msg := "Herald will post notifications to Slack"
	if res.Channel != "" {
		msg += " in " + res.Channel
	}
	if res.TeamName != "" {
		msg += " (" + res.TeamName + ")"
	}
	return renderOAuthPage(c, http.StatusOK, oauthPage{OK: true, Title: "Slack is connected", Message: msg + ". You can close this page."})
}

// slackOAuthURL returns a subscriber's ready shareable URL, hmacHash included.
func (s *Server) slackOAuthURL(c echo.Context) error {
	u, err := s.SlackOAuth.ShareableURL(c.Request().Context(), Env(c), subscriberParam(c), c.QueryParam("integrationIdentifier"))
	if err != nil {
		return oauthAPIError(err)
	}
	return data(c, http.StatusOK, map[string]string{"url": u})
}

// slackOAuthOutcome renders the OAuth routes' failures: a redirect to the
// integration's redirectUrl when the request is known to belong to it, else
// a page for a browser, else Novu's error shape.
func (s *Server) slackOAuthOutcome(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err == nil {
			return nil
		}
		var fe *slackoauth.Error
		if !errors.As(err, &fe) {
			fe = nil
		}
		if fe != nil && fe.RedirectURL != "" {
			privateHeaders(c)
			v := url.Values{"status": {"error"}, "reason": {string(fe.Reason)}}
			if fe.SlackError != "" {
				v.Set("slack_error", fe.SlackError)
			}
			return c.Redirect(http.StatusFound, withStatus(fe.RedirectURL, v))
		}
		if !isSlackReturn(c) && !strings.HasSuffix(c.Path(), "/callback") && !wantsHTML(c) {
			return oauthAPIError(err)
		}
		if fe == nil {
			s.Logger.Error("request failed", "request_id", requestID(c), "method", c.Request().Method,
				"route", c.Path(), "status", http.StatusInternalServerError, "error", err.Error())
			return renderOAuthPage(c, http.StatusInternalServerError, oauthPage{
				Title: "Something went wrong", Message: "Slack could not be connected because of a problem on our side. Please try again in a moment.",
				Code: "internal_error",
			})
		}
		return renderOAuthPage(c, oauthStatus(fe.Reason), oauthPage{
			Title: "Slack was not connected", Message: fe.Message, Code: string(fe.Reason),
		})
	}
}

// isSlackReturn reports whether a request is Slack's redirect back.
func isSlackReturn(c echo.Context) bool {
	q := c.QueryParams()
	return q.Has("code") || q.Has("state") || q.Has("error")
}

func wantsHTML(c echo.Context) bool {
	return strings.Contains(c.Request().Header.Get("Accept"), "text/html")
}

// subscriberParam returns the path's subscriberId, unescaped.
func subscriberParam(c echo.Context) string {
	p := c.Param("subscriberId")
	if v, err := url.PathUnescape(p); err == nil {
		return v
	}
	return p
}

func oauthStatus(r slackoauth.Reason) int {
	switch r {
	case slackoauth.ReasonEnvironmentNotFound, slackoauth.ReasonIntegrationNotFound:
		return http.StatusNotFound
	case slackoauth.ReasonSlackUnavailable, slackoauth.ReasonNoWebhook:
		return http.StatusBadGateway
	}
	return http.StatusBadRequest
}

// oauthAPIError maps a slackoauth failure to an API error.
func oauthAPIError(err error) error {
	var fe *slackoauth.Error
	if errors.As(err, &fe) {
		return &Error{Status: oauthStatus(fe.Reason), Message: fe.Message, Cause: fe.Cause}
	}
	return errInternal(err)
}

// withStatus adds v to the query of an integration's redirectUrl.
func withStatus(redirect string, v url.Values) string {
	u, err := url.Parse(redirect)
	if err != nil {
		return redirect
	}
	q := u.Query()
	for k := range v {
		q.Set(k, v.Get(k))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// privateHeaders keeps OAuth answers out of caches and Referer headers.
func privateHeaders(c echo.Context) {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
}

type oauthPage struct {
	OK      bool
	Title   string
	Message string
	Code    string
}

var oauthPageTemplate = template.Must(template.New("oauth").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}}</title>
<style>
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#f6f6f8;color:#1d1c1d;font:16px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:28rem;margin:1rem;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12);text-align:center}
.mark{width:3rem;height:3rem;margin:0 auto 1rem;border-radius:50%;display:flex;align-items:center;justify-content:center;font-size:1.5rem;font-weight:700;color:#fff}
.ok{background:#2eb67d}.err{background:#e01e5a}
h1{font-size:1.25rem;margin:0 0 .5rem}
p{margin:.5rem 0}
.code{color:#616061;font-size:.85rem}
</style>
</head>
<body>
<main>
<div class="mark {{if .OK}}ok{{else}}err{{end}}">{{if .OK}}&#10003;{{else}}!{{end}}</div>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{if .Code}}<p class="code">Error code: <code>{{.Code}}</code></p>{{end}}
</main>
</body>
</html>
`))

func renderOAuthPage(c echo.Context, status int, p oauthPage) error {
	var buf bytes.Buffer
	if err := oauthPageTemplate.Execute(&buf, p); err != nil {
		return errInternal(err)
	}
	privateHeaders(c)
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	return c.HTMLBlob(status, buf.Bytes())
}
