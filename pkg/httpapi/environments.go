package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

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
	return data(c, http.StatusOK, map[string]any{
		"_id":             env.ID,
		"_organizationId": env.OrganizationID,
		"name":            env.Name,
		"identifier":      env.Identifier,
		"apiKeys":         keys,
		"_parentId":       nil,
		"createdAt":       env.CreatedAt,
		"updatedAt":       env.UpdatedAt,
	})
}

// environmentAPIKeys answers GET /v1/environments/api-keys (masked).
func (s *Server) environmentAPIKeys(c echo.Context) error {
	keys, err := s.maskedKeys(c)
	if err != nil {
		return err
	}
	return data(c, http.StatusOK, keys)
}
