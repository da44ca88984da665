package sim

import (
	"slices"
	"strings"
	"time"
)

// SetUnreachable marks a substituter URL as unreachable (or reachable
// again): Nix 2.8 then spends its four download retries on it (about 4.6 s
// of virtual time) and goes on without it.
func (h *Host) SetUnreachable(url string, unreachable bool) {
	if unreachable {
		h.cacheFaults[url] = 0
	} else {
		delete(h.cacheFaults, url)
	}
}

// SetCacheStatus makes an http(s) substituter answer its nix-cache-info
// with an HTTP status (0: 200 again); see substituterUsable for what Nix
// 2.8 does then.
func (h *Host) SetCacheStatus(url string, status int) {
	if status == 0 {
		delete(h.cacheFaults, url)
	} else {
		h.cacheFaults[url] = status
	}
}

// nixSettings are the Nix settings a command runs with.
type nixSettings struct {
	substituters []string
	trustedKeys  []string
	requireSigs  bool
}

// settingsFor starts from the host's nix.conf and applies NIX_CONFIG from
// env (one "name = value" a line, as Nix reads it).
func (h *Host) settingsFor(env []string) nixSettings {
	s := nixSettings{
		substituters: slices.Clone(h.cfg.Substituters),
		trustedKeys:  slices.Clone(h.cfg.TrustedPublicKeys),
		requireSigs:  true,
	}
	for _, kv := range env {
		conf, ok := strings.CutPrefix(kv, "NIX_CONFIG=")
		if !ok {
			continue
		}
		for _, line := range strings.Split(conf, "\n") {
			if name, value, ok := strings.Cut(line, "="); ok {
				s.apply(strings.TrimSpace(name), strings.TrimSpace(value))
			}
		}
	}
	return s
}

// apply sets one Nix setting. Settings the simulator does not model are
// ignored, as Nix 2.8 silently ignored an unknown --option (observed).
func (s *nixSettings) apply(name, value string) {
	switch name {
	case "substituters":
		s.substituters = strings.Fields(value)
	case "extra-substituters":
		s.substituters = append(s.substituters, strings.Fields(value)...)
	case "trusted-public-keys":
		s.trustedKeys = strings.Fields(value)
	case "extra-trusted-public-keys":
		s.trustedKeys = append(s.trustedKeys, strings.Fields(value)...)
	case "require-sigs":
		s.requireSigs = value != "false"
	}
}

func (s nixSettings) trusts(o Offer) bool {
	return !s.requireSigs || (o.SignedBy != "" && slices.Contains(s.trustedKeys, o.SignedBy))
}

// substitution is what one attempt to make a path valid printed.
type substitution struct {
	stderr []string
	ok     bool
	// abort: Nix gave up on the whole command at once (a narinfo that
	// failed for good), without "build of 'P' failed".
	abort bool
	// took is the virtual time spent on retries.
	took time.Duration
}

// substitute makes basename valid from the substituters, as Nix 2.8 does:
// unusable caches are skipped (substituterUsable); with no offer left,
// "don't know how to build"; otherwise the offers are tried in substituter
// order: an untrusted one only warns, a defective or refused one fails
// with its error, the first sound trusted one is copied. debug adds the
// --debug status lines of the HTTP transfers.
func (h *Host) substitute(basename string, s nixSettings, debug bool) substitution {
	p := storePath(basename)
	var sub substitution
	var offers []Offer
	for _, url := range s.substituters {
		if !h.substituterUsable(url, debug, &sub) {
			continue
		}
		o, ok := h.offer(basename, url)
		if !ok || !h.narinfoServed(p, o, debug, &sub) {
			if sub.abort {
				return sub
			}
			continue
		}
		offers = append(offers, o)
	}
	if len(offers) == 0 {
		sub.stderr = append(sub.stderr, h.phrase.DontKnowHowToBuild(p))
		return sub
	}
	sub.stderr = append(sub.stderr, h.phrase.WillFetch(p))
	for _, o := range offers {
		if !s.trusts(o) {
			sub.stderr = append(sub.stderr, h.phrase.UntrustedSubstitute(p, o.URL))
			continue
		}
		sub.stderr = append(sub.stderr, h.phrase.Copying(p, o.URL))
		if msg := h.narError(p, o, debug, &sub); msg != "" {
			sub.stderr = append(sub.stderr, msg)
			continue
		}
		sub.ok = h.makeValid(basename) == nil
		return sub
	}
	return sub
}

func (h *Host) offer(basename, url string) (Offer, bool) {
	c, ok := h.closures[basename]
	if !ok {
		return Offer{}, false
	}
	for _, o := range c.spec.Offers {
		if o.URL == url {
			return o, true
		}
	}
	return Offer{}, false
}

// narError is the error line(s) fetching the copy's NAR produces, "" for
// a sound one: its HTTP status first (see narStatusError), then its defect.
func (h *Host) narError(p string, o Offer, debug bool, sub *substitution) string {
	if o.NarStatus != 0 {
		return h.narStatusError(p, o, debug, sub)
	}
	return h.defectError(p, o)
}

// defectError is the error line(s) a defective copy produces, "" for a
// sound one.
func (h *Host) defectError(p string, o Offer) string {
	switch o.Defect {
	case OfferHashMismatch:
		return h.phrase.HashMismatch(p)
	case OfferNarMissing:
		return h.phrase.NarMissing(p)
	case OfferGarbage:
		return h.phrase.BadCompression()
	}
	return ""
}

func retryTime() time.Duration {
	var total time.Duration
	for _, ms := range UnreachableRetryDelays {
		total += time.Duration(ms) * time.Millisecond
	}
	return total
}
