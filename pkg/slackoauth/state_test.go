package slackoauth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestSignerVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	signer := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	valid := State{EnvironmentID: "e1", SubscriberID: "alice", IntegrationID: "i1", Nonce: "n1", ExpiresAt: now.Add(StateTTL).Unix()}
	token := signer.Sign(valid)
	payload, sig, _ := strings.Cut(token, ".")
	flip := func(s string) string {
		b := []byte(s)
		if b[3] == 'A' {
			b[3] = 'B'
		} else {
			b[3] = 'A'
		}
		return string(b)
	}
	forged := valid
	forged.SubscriberID = "mallory"
	forgedPayload, _, _ := strings.Cut(signer.Sign(forged), ".")

	cases := []struct {
		name  string
		token string
		at    time.Time
		want  error
	}{
		{"valid", token, now, nil},
		{"valid until just before expiry", token, now.Add(StateTTL - time.Second), nil},
		{"expired", token, now.Add(StateTTL), ErrStateExpired},
		{"empty", "", now, ErrStateInvalid},
		{"no signature", payload, now, ErrStateInvalid},
		{"tampered payload", flip(payload) + "." + sig, now, ErrStateInvalid},
		{"payload swapped under old signature", forgedPayload + "." + sig, now, ErrStateInvalid},
		{"tampered signature", payload + "." + flip(sig), now, ErrStateInvalid},
		{"other key", NewSigner([]byte("another key entirely, 32 bytes!!")).Sign(valid), now, ErrStateInvalid},
		{"signed garbage", signedRaw(signer, "not json"), now, ErrStateInvalid},
		{"signed but incomplete", signer.Sign(State{Nonce: "n", ExpiresAt: now.Add(time.Minute).Unix()}), now, ErrStateInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := signer.Verify(tc.token, tc.at)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify error %v, want %v", err, tc.want)
			}
			if tc.want == nil && st != valid {
				t.Fatalf("Verify = %+v, want %+v", st, valid)
			}
		})
	}
}

func signedRaw(s *Signer, raw string) string {
	p := b64.EncodeToString([]byte(raw))
	return p + "." + b64.EncodeToString(s.mac(p))
}

func TestWithoutParams(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"code=abc", ""},
		{"environmentId=e1&code=abc&state=s", "?environmentId=e1"},
		{"environmentId=e1&integrationIdentifier=slack%2Dx&code=abc", "?environmentId=e1&integrationIdentifier=slack%2Dx"},
		{"co%64e=abc&hmacHash=h", "?hmacHash=h"},
		{"error=access_denied&environmentId=e1", "?environmentId=e1"},
	}
	for _, tc := range cases {
		if got := withoutParams(tc.in, "code", "state", "error"); got != tc.want {
			t.Errorf("withoutParams(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSanitizeCode(t *testing.T) {
	cases := []struct{ in, want string }{
		{"invalid_code", "invalid_code"},
		{"<script>alert(1)</script>", "scriptalert1script"},
		{"", "unknown_error"},
		{strings.Repeat("a", 100), strings.Repeat("a", 64)},
	}
	for _, tc := range cases {
		if got := sanitizeCode(tc.in); got != tc.want {
			t.Errorf("sanitizeCode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
