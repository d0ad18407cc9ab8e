package blockkit

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Slack's limits, from the Block Kit reference.
const (
	MaxBlocks             = 50
	MaxBlockIDLength      = 255
	MaxSectionTextLength  = 3000
	MaxSectionFields      = 10
	MaxSectionFieldLength = 2000
	MaxHeaderTextLength   = 150
	MaxContextElements    = 10
	MaxActionsElements    = 25
	MaxImageURLLength     = 3000
	MaxAltTextLength      = 2000
)

// BlockTypes are the block types Slack accepts in messages.
func BlockTypes() []string {
	return []string{"section", "header", "divider", "context", "actions", "image", "rich_text", "input", "file", "video"}
}

// Violation is one way a payload breaks Block Kit's rules.
type Violation struct {
	Path    string // where, e.g. "blocks[3].text.text"
	Message string // what, e.g. "is 3120 characters; Slack allows 3000"
}

// String renders the violation as one sentence: path then problem.
func (v Violation) String() string { return v.Path + " " + v.Message }

// Messages renders violations as strings, for an API error's message list.
func Messages(vs []Violation) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}

// Validate checks a rendered chat payload: a JSON object whose "blocks"
// member holds the blocks, or a bare JSON array of blocks. An object without
// blocks (a plain text message) has nothing to check. Every violation is
// returned, in document order; none means Slack's documented limits hold.
func Validate(payload []byte) []Violation {
	var root any
	if err := json.Unmarshal(payload, &root); err != nil {
		return []Violation{{Path: "payload", Message: "is not valid JSON: " + err.Error()}}
	}
	var blocks any
	path := "blocks"
	switch r := root.(type) {
	case []any:
		blocks = r
	case map[string]any:
		b, ok := r["blocks"]
		if !ok || b == nil {
			return nil
		}
		blocks = b
	default:
		return []Violation{{Path: "payload", Message: "must be a JSON object with blocks or an array of blocks"}}
	}
	c := &checker{}
	c.blocks(path, blocks)
	return c.out
}

type checker struct{ out []Violation }

func (c *checker) add(path, format string, args ...any) {
	c.out = append(c.out, Violation{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) blocks(path string, v any) {
	list, ok := v.([]any)
	if !ok {
		c.add(path, "must be an array")
		return
	}
	if len(list) > MaxBlocks {
		c.add(path, "has %d blocks; Slack allows %d", len(list), MaxBlocks)
	}
	for i, b := range list {
		c.block(fmt.Sprintf("%s[%d]", path, i), b)
	}
}

func (c *checker) block(path string, v any) {
	b, ok := v.(map[string]any)
	if !ok {
		c.add(path, "must be an object")
		return
	}
	if id, ok := b["block_id"]; ok {
		s, isStr := id.(string)
		switch {
		case !isStr:
			c.add(path+".block_id", "must be a string")
		case utf8.RuneCountInString(s) > MaxBlockIDLength:
			c.add(path+".block_id", "is %d characters; Slack allows %d", utf8.RuneCountInString(s), MaxBlockIDLength)
		}
	}
	typ, _ := b["type"].(string)
	switch {
	case typ == "":
		c.add(path+".type", "is missing; every block needs a type")
		return
	case !slices.Contains(BlockTypes(), typ):
		c.add(path+".type", "%q is not a Block Kit block type (known: %s)", typ, strings.Join(BlockTypes(), ", "))
		return
	}
	switch typ {
	case "section":
		text, hasText := b["text"]
		fields, hasFields := b["fields"]
		if !hasText && !hasFields && b["accessory"] == nil {
			c.add(path, "is a section without text or fields")
		}
		if hasText {
			c.textObject(path+".text", text, MaxSectionTextLength)
		}
		if hasFields {
			c.fields(path+".fields", fields)
		}
	case "header":
		text, ok := b["text"]
		if !ok {
			c.add(path+".text", "is missing; a header needs a plain_text text")
			return
		}
		c.textObject(path+".text", text, MaxHeaderTextLength)
		if t, ok := text.(map[string]any); ok && t["type"] != nil && t["type"] != "plain_text" {
			c.add(path+".text.type", "must be plain_text in a header, got %v", t["type"])
		}
	case "context":
		c.elements(path+".elements", b["elements"], MaxContextElements)
	case "actions":
		c.elements(path+".elements", b["elements"], MaxActionsElements)
	case "image":
		url, hasURL := b["image_url"].(string)
		_, hasFile := b["slack_file"].(map[string]any)
		switch {
		case !hasURL && !hasFile:
			c.add(path+".image_url", "is missing; an image needs image_url (or slack_file)")
		case hasURL && url == "":
			c.add(path+".image_url", "is empty")
		case hasURL && utf8.RuneCountInString(url) > MaxImageURLLength:
			c.add(path+".image_url", "is %d characters; Slack allows %d", utf8.RuneCountInString(url), MaxImageURLLength)
		}
		alt, ok := b["alt_text"].(string)
		switch {
		case !ok || alt == "":
			c.add(path+".alt_text", "is missing; an image needs alt_text")
		case utf8.RuneCountInString(alt) > MaxAltTextLength:
			c.add(path+".alt_text", "is %d characters; Slack allows %d", utf8.RuneCountInString(alt), MaxAltTextLength)
		}
	}
}

// textObject checks a text object {type, text} and the length of its text.
func (c *checker) textObject(path string, v any, max int) {
	t, ok := v.(map[string]any)
	if !ok {
		c.add(path, "must be a text object {type, text}")
		return
	}
	s, ok := t["text"].(string)
	if !ok {
		c.add(path+".text", "is missing or not a string")
		return
	}
	if n := utf8.RuneCountInString(s); n > max {
		c.add(path+".text", "is %d characters; Slack allows %d", n, max)
	}
}

func (c *checker) fields(path string, v any) {
	list, ok := v.([]any)
	if !ok {
		c.add(path, "must be an array")
		return
	}
	if len(list) > MaxSectionFields {
		c.add(path, "has %d fields; Slack allows %d", len(list), MaxSectionFields)
	}
	for i, f := range list {
		c.textObject(fmt.Sprintf("%s[%d]", path, i), f, MaxSectionFieldLength)
	}
}

// elements checks a required, non-empty elements array of at most max entries.
func (c *checker) elements(path string, v any, max int) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		c.add(path, "must be a non-empty array")
		return
	}
	if len(list) > max {
		c.add(path, "has %d elements; Slack allows %d", len(list), max)
	}
}
