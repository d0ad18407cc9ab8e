package subscriber

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
)

// MaxIDLength is the longest accepted subscriberId.
const MaxIDLength = 256

var localeRE = regexp.MustCompile(`^[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{2,8})*$`)
var phoneRE = regexp.MustCompile(`^\+?[0-9 ()\-.]{3,32}$`)

// ValidateID returns the problems with a subscriberId.
func ValidateID(id string) []string {
	switch {
	case strings.TrimSpace(id) == "":
		return []string{"subscriberId should not be empty"}
	case len(id) > MaxIDLength:
		return []string{fmt.Sprintf("subscriberId must be shorter than or equal to %d characters", MaxIDLength)}
	}
	return nil
}

// Validate returns every problem with a profile, in the API's wording.
func (p Profile) Validate() []string {
	var errs []string
	if p.Email != nil && *p.Email != "" {
		a, err := mail.ParseAddress(*p.Email)
		if err != nil || a.Address != *p.Email {
			errs = append(errs, "email must be an email")
		}
	}
	if p.Locale != nil && *p.Locale != "" && !localeRE.MatchString(*p.Locale) {
		errs = append(errs, "locale must be a locale such as en or en-US")
	}
	if p.Phone != nil && *p.Phone != "" && !phoneRE.MatchString(*p.Phone) {
		errs = append(errs, "phone must be a phone number")
	}
	if p.Avatar != nil && *p.Avatar != "" {
		u, err := url.Parse(*p.Avatar)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, "avatar must be an http(s) URL")
		}
	}
	for name, v := range map[string]*string{"firstName": p.FirstName, "lastName": p.LastName} {
		if v != nil && len(*v) > 256 {
			errs = append(errs, name+" must be shorter than or equal to 256 characters")
		}
	}
	return errs
}
