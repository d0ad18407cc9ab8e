package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/pkg/environment"
	"github.com/heraldhq/herald/pkg/ratelimit"
	"github.com/heraldhq/herald/pkg/retry"
	"github.com/heraldhq/herald/pkg/secret"
)

type apiKeyView struct {
	Key    string `json:"key"`
	UserID string `json:"_userId"`
}

func (s *Server) maskedKeys(c echo.Context) ([]apiKeyView, error) {
	keys, err := s.Environments.Keys(Env(c))
	if err != nil {
		return nil, errInternal(err)
	}
	out := make([]apiKeyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, apiKeyView{Key: secret.Mask(k), UserID: ""})
	}
	return out, nil
}

// environmentMe answers GET /v1/environments/me. API keys are masked: Herald
// never returns a secret, not even to its owner.
func (s *Server) environmentMe(c echo.Context) error {
	env := Env(c)
	keys, err := s.maskedKeys(c)
	if err != nil {
		return err
	}
	out := map[string]any{
		"_id":             env.ID,
		"_organizationId": env.OrganizationID,
		"name":            env.Name,
		"identifier":      env.Identifier,
		"apiKeys":         keys,
		"_parentId":       nil,
		"createdAt":       env.CreatedAt,
		"updatedAt":       env.UpdatedAt,
	}
	for k, v := range s.policyView(env) {
		out[k] = v
	}
	return data(c, http.StatusOK, out)
}

// environmentAPIKeys answers GET /v1/environments/api-keys (masked).
func (s *Server) environmentAPIKeys(c echo.Context) error {
	keys, err := s.maskedKeys(c)
	if err != nil {
		return err
	}
	return data(c, http.StatusOK, keys)
}

// policyView is an environment's delivery policy as the API shows it: the
// environment's own settings (null: the server's default) and the effective ones.
func (s *Server) policyView(env *environment.Environment) map[string]any {
	var own any
	if env.Policy.HasRetrySchedule {
		own = env.RetrySchedule(s.Config.RetrySchedule).Strings()
	}
	var ownRate any
	if env.Policy.TriggerRateLimit != "" {
		ownRate = env.Policy.TriggerRateLimit
	}
	return map[string]any{
		"retrySchedule":             own,
		"effectiveRetrySchedule":    env.RetrySchedule(s.Config.RetrySchedule).Strings(),
		"triggerRateLimit":          ownRate,
		"effectiveTriggerRateLimit": s.triggerLimit(env).String(),
	}
}

// environmentPolicyBody is PUT /v1/environments/:environmentId. A field left
// out keeps its value; null resets it to the server's default.
type environmentPolicyBody struct {
	RetrySchedule    json.RawMessage `json:"retrySchedule"`
	TriggerRateLimit json.RawMessage `json:"triggerRateLimit"`
}

// updateEnvironment answers PUT /v1/environments/:environmentId: it sets the
// environment's delivery policy (retry schedule, trigger rate limit). Only
// the authenticated environment can be updated.
func (s *Server) updateEnvironment(c echo.Context) error {
	env := Env(c)
	if c.Param("environmentId") != env.ID.Hex() {
		return errNotFound("Environment " + c.Param("environmentId") + " not found")
	}
	var body environmentPolicyBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	p := env.Policy
	var problems []string
	if raw := body.RetrySchedule; len(raw) > 0 {
		if string(raw) == "null" {
			p.RetrySchedule, p.HasRetrySchedule = nil, false
		} else {
			var steps []string
			if err := json.Unmarshal(raw, &steps); err != nil {
				problems = append(problems, `retrySchedule must be an array of durations such as ["5s","30s","2m"], or null`)
			} else if sched, err := retry.FromStrings(steps); err != nil {
				problems = append(problems, "retrySchedule: "+err.Error())
			} else {
				p.RetrySchedule, p.HasRetrySchedule = sched.Strings(), true
			}
		}
	}
	if raw := body.TriggerRateLimit; len(raw) > 0 {
		if string(raw) == "null" {
			p.TriggerRateLimit = ""
		} else {
			var rate string
			if err := json.Unmarshal(raw, &rate); err != nil {
				problems = append(problems, `triggerRateLimit must be a rate such as "100/s" or "off", or null`)
			} else if _, err := ratelimit.ParseRate(rate); err != nil {
				problems = append(problems, "triggerRateLimit: "+err.Error())
			} else {
				if strings.TrimSpace(rate) == "" {
					rate = "off"
				}
				p.TriggerRateLimit = strings.ToLower(strings.TrimSpace(rate))
			}
		}
	}
	if len(problems) > 0 {
		return errValidation(problems)
	}
	updated, err := s.Environments.SetPolicy(c.Request().Context(), env.ID, p)
	if err != nil {
		return storeErr(err, "Environment "+env.ID.Hex()+" not found")
	}
	out := map[string]any{
		"_id": updated.ID, "_organizationId": updated.OrganizationID, "name": updated.Name,
		"identifier": updated.Identifier, "createdAt": updated.CreatedAt, "updatedAt": updated.UpdatedAt,
	}
	for k, v := range s.policyView(updated) {
		out[k] = v
	}
	return data(c, http.StatusOK, out)
}
