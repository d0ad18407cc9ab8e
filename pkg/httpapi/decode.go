package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// MaxBodyBytes is the largest JSON body the API accepts.
const MaxBodyBytes = 512 << 10

// decodeJSON reads the request body into v: a body over MaxBodyBytes is a 413,
// malformed JSON a 400 that says where it broke, an empty body a 400.
func decodeJSON(c echo.Context, v any) error {
	req := c.Request()
	if req.ContentLength > MaxBodyBytes {
		return errTooLarge()
	}
	r := http.MaxBytesReader(c.Response(), req.Body, MaxBodyBytes)
	var body []byte
	var err error
	if n := req.ContentLength; n > 0 {
		// Read in one allocation: net/http ends the body after
		// Content-Length bytes, and the length is capped above.
		body = make([]byte, n)
		_, err = io.ReadFull(r, body)
	} else {
		body, err = io.ReadAll(r)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge()
		}
		return errBadRequest("Could not read request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return errBadRequest("Request body must be a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errBadRequest(describeJSONError(body, err))
	}
	return nil
}

func errTooLarge() *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("Request body is larger than %d KiB", MaxBodyBytes>>10)}
}

func describeJSONError(body []byte, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("Invalid JSON at offset %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return fmt.Sprintf("Request body must be a JSON %s, got %s", jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return fmt.Sprintf("%s must be %s, got %s", field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "Invalid JSON: unexpected end of input"
	}
	return "Invalid JSON: " + err.Error()
}

func jsonKind(goKind string) string {
	switch goKind {
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "float64", "uint":
		return "a number"
	case "ptr":
		return "a value of another type"
	}
	return "a value of another type"
}

// pageParams reads 0-based page and limit query parameters.
func pageParams(c echo.Context, defLimit, maxLimit int) (page, limit int, err error) {
	page, limit = 0, defLimit
	var problems []string
	if v := c.QueryParam("page"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 0 {
			problems = append(problems, "page must not be less than 0")
		} else {
			page = n
		}
	}
	if v := c.QueryParam("limit"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 1 || n > maxLimit {
			problems = append(problems, fmt.Sprintf("limit must be a number from 1 to %d", maxLimit))
		} else {
			limit = n
		}
	}
	if len(problems) > 0 {
		return 0, 0, errValidation(problems)
	}
	return page, limit, nil
}

// data renders Novu's success envelope.
func data(c echo.Context, status int, v any) error {
	return c.JSON(status, map[string]any{"data": v})
}

// paginated renders Novu's list shape (not wrapped in data again).
type paginated struct {
	Page       int   `json:"page"`
	PageSize   int   `json:"pageSize"`
	HasMore    bool  `json:"hasMore"`
	TotalCount int64 `json:"totalCount"`
	Data       any   `json:"data"`
}

func page(c echo.Context, p, limit int, total int64, items any, n int) error {
	return c.JSON(http.StatusOK, paginated{
		Page: p, PageSize: limit, TotalCount: total, Data: items,
		HasMore: int64(p*limit+n) < total,
	})
}
