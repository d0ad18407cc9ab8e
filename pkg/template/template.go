package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mailgun/raymond/v2"

	"github.com/heraldhq/herald/pkg/ttlcache"
)

// Engine compiles and renders templates, caching compiled ones. It is safe
// for concurrent use.
type Engine struct {
	cache *ttlcache.Cache[string, *raymond.Template]
}

// NewEngine returns an Engine caching up to max compiled templates.
func NewEngine(max int) *Engine {
	return &Engine{cache: ttlcache.New[string, *raymond.Template](30*time.Minute, max)}
}

func (e *Engine) compile(src string) (*raymond.Template, error) {
	if t, ok := e.cache.Get(src); ok {
		return t, nil
	}
	t, err := raymond.Parse(src)
	if err != nil {
		return nil, err
	}
	e.cache.Set(src, t)
	return t, nil
}

// Validate compiles content and every string of blocks (a JSON array, may be
// empty) and reports the first problem, naming where it is.
func (e *Engine) Validate(content string, blocks json.RawMessage) error {
	if _, err := e.compile(content); err != nil {
		return fmt.Errorf("content: %w", err)
	}
	if len(bytes.TrimSpace(blocks)) == 0 {
		return nil
	}
	v, err := decode(blocks)
	if err != nil {
		return fmt.Errorf("blocks: %w", err)
	}
	if _, ok := v.([]any); !ok {
		return errors.New("blocks: must be a JSON array of Slack blocks")
	}
	return walk(v, func(s string) (string, error) {
		if !strings.Contains(s, "{{") {
			return s, nil
		}
		if _, err := e.compile(s); err != nil {
			return "", fmt.Errorf("blocks: %w", err)
		}
		return s, nil
	})
}

// Render renders a text template with data.
func (e *Engine) Render(src string, data map[string]any) (string, error) {
	if !strings.Contains(src, "{{") {
		return src, nil
	}
	t, err := e.compile(src)
	if err != nil {
		return "", err
	}
	return t.Exec(data)
}

// RenderJSON renders every string value (not key) of a JSON document with
// data and returns the document with the same structure. Empty input
// renders to nil.
func (e *Engine) RenderJSON(doc json.RawMessage, data map[string]any) (json.RawMessage, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, nil
	}
	v, err := decode(doc)
	if err != nil {
		return nil, err
	}
	var out any
	out, err = rewrite(v, func(s string) (string, error) { return e.Render(s, data) })
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return json.RawMessage(bytes.TrimSpace(buf.Bytes())), nil
}

func decode(doc []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return v, nil
}

func walk(v any, fn func(string) (string, error)) error {
	_, err := rewrite(v, fn)
	return err
}

func rewrite(v any, fn func(string) (string, error)) (any, error) {
	switch x := v.(type) {
	case string:
		return fn(x)
	case []any:
		for i := range x {
			r, err := rewrite(x[i], fn)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
		return x, nil
	case map[string]any:
		for k, val := range x {
			r, err := rewrite(val, fn)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
		return x, nil
	}
	return v, nil
}
