package template

// Subscriber is the subscriber as templates see it under {{subscriber.*}}.
type Subscriber struct {
	SubscriberID string
	FirstName    string
	LastName     string
	Email        string
	Phone        string
	Avatar       string
	Locale       string
	Data         map[string]any
}

// Data builds a template's data: payload keys at the top level, the
// subscriber under "subscriber". The key "step" is reserved for digests and
// is not taken from the payload.
func Data(payload map[string]any, sub Subscriber) map[string]any {
	d := make(map[string]any, len(payload)+1)
	for k, v := range payload {
		d[k] = v
	}
	delete(d, "step")
	d["subscriber"] = map[string]any{
		"subscriberId": sub.SubscriberID,
		"firstName":    sub.FirstName,
		"lastName":     sub.LastName,
		"email":        sub.Email,
		"phone":        sub.Phone,
		"avatar":       sub.Avatar,
		"locale":       sub.Locale,
		"data":         sub.Data,
	}
	return d
}
