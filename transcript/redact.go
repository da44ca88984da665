package transcript

import (
	"net/url"
	"regexp"
	"strings"
	"sync"
)

// Redacted replaces every secret the transcript must not hold.
const Redacted = "[REDACTED]"

// secretKey matches a --meta key, URL query parameter or setting name that
// names a secret (compiled on first use, not in every run's start-up).
var secretKey = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(token|secret|passw|pwd|key|auth|cred|cookie|session|signature|sig$|private)`)
})

// SecretKey reports whether a --meta key or query parameter name looks
// like it names a secret.
func SecretKey(name string) bool { return secretKey().MatchString(name) }

// RedactMeta returns meta with the values of secret-looking keys replaced
// by Redacted; nil stays nil.
func RedactMeta(meta map[string]string) map[string]string {
	if meta == nil {
		return nil
	}
	out := make(map[string]string, len(meta))
	for k, v := range meta {
		if SecretKey(k) {
			v = Redacted
		}
		out[k] = v
	}
	return out
}

// Redactor removes known secrets from text. Build it with NewRedactor from
// the substituter URLs and meta values of a run; Text then replaces each
// secret wherever it appears (a command line, Nix's stderr echoing a URL).
type Redactor struct {
	secrets []string
}

// The patterns Text redacts, each compiled on first use: netrcPassword
// matches netrc-style "password VALUE", accessTokens NIX_CONFIG's
// "access-tokens = host=TOKEN ..." values.
var (
	netrcPassword = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)\b(password|passwd)\s+(\S+)`)
	})
	accessTokens = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)access-tokens\s*=\s*([^\n]*)`)
	})
	// urlUserInfo is the user[:password]@ of any URL in text.
	urlUserInfo = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(://)[^/@\s'"]+@`)
	})
	// secretQuery is a secret-looking query parameter's value in text.
	secretQuery = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)([?&][^=&\s'"]*(token|secret|passw|key|auth|cred|sig)[^=&\s'"]*=)[^&\s'"]*`)
	})
)

// NewRedactor collects the secrets of substituter URLs (user info, secret
// query parameter values) and of secret-looking meta keys.
func NewRedactor(substituters []string, meta map[string]string) *Redactor {
	r := &Redactor{}
	for _, s := range substituters {
		r.secrets = append(r.secrets, urlSecrets(s)...)
	}
	for k, v := range meta {
		if SecretKey(k) && len(v) >= 4 {
			r.secrets = append(r.secrets, v)
		}
	}
	return r
}

// urlSecrets returns the credentials a substituter URL carries: the
// user:password (or a lone token as user) and the values of secret-looking
// query parameters.
func urlSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	var out []string
	if u.User != nil {
		out = append(out, u.User.String())
		if p, ok := u.User.Password(); ok && p != "" {
			out = append(out, p)
		}
	}
	for k, vs := range u.Query() {
		if !SecretKey(k) {
			continue
		}
		for _, v := range vs {
			if v != "" {
				out = append(out, v, url.QueryEscape(v))
			}
		}
	}
	return out
}

// Text returns s with every known secret, netrc-style password and
// access-tokens value replaced by Redacted.
func (r *Redactor) Text(s string) string {
	for _, sec := range r.secrets {
		// GOTCHA: a very short secret would also blank unrelated text; the
		// patterns below still catch it inside a URL.
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	s = urlUserInfo().ReplaceAllString(s, "${1}"+Redacted+"@")
	s = secretQuery().ReplaceAllString(s, "${1}"+Redacted)
	s = netrcPassword().ReplaceAllString(s, "$1 "+Redacted)
	return accessTokens().ReplaceAllString(s, "access-tokens = "+Redacted)
}

// Bytes is Text for a byte slice; nil stays nil.
func (r *Redactor) Bytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return []byte(r.Text(string(b)))
}

// Strings is Text for each element.
func (r *Redactor) Strings(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = r.Text(s)
	}
	return out
}
