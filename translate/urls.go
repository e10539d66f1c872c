package translate

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// resolveURL parses raw, resolves it against the document URL and, for callback URLs, reads and
// removes the retry fragment (callbacks.md §1.2 and §3.7). problem is non-empty when the value
// is invalid; warns are things the developer should know.
func (p *parser) resolveURL(raw string, kind urlKind) (u *url.URL, pol RetryPolicy, problem string, warns []string) {
	pol = DefaultRetryPolicy()
	u, err := url.Parse(raw)
	if err != nil {
		return nil, pol, "must be a URL (" + urlErrText(err) + ")", nil
	}
	if u.Scheme != "" {
		if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
			return nil, pol, "must be an http or https URL", nil
		}
		if u.Host == "" {
			return nil, pol, "must name a host (http://host/...)", nil
		}
	} else {
		switch {
		case p.dialect == Plivo && p.base != nil:
			warns = append(warns, "Plivo expects a fully qualified URL; this relative URL is resolved against the document URL")
		case p.dialect == Plivo:
			warns = append(warns, "Plivo expects a fully qualified URL; this relative URL will be resolved against the document URL at run time")
		}
		if p.base != nil {
			u = p.base.ResolveReference(u)
		}
		if u.IsAbs() && u.Host == "" || strings.HasPrefix(raw, "//") && u.Host == "" {
			return nil, pol, "must name a host (http://host/...)", nil
		}
	}
	if kind == urlCallback && (u.Fragment != "" || u.RawFragment != "") {
		frag := u.EscapedFragment()
		var probs []string
		pol, probs, warns = parseRetryFragment(frag, warns)
		if len(probs) > 0 && !p.opts.Lenient {
			return nil, DefaultRetryPolicy(), "retry fragment #" + frag + ": " + strings.Join(probs, "; "), warns
		}
		for _, pr := range probs {
			warns = append(warns, "retry fragment: "+pr+"; lenient mode uses the nearest allowed value")
		}
		u.Fragment, u.RawFragment = "", ""
	}
	return u, pol, "", warns
}

func urlErrText(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return err.Error()
}

// retryRange is the allowed range of one numeric fragment key, in ms or a count.
type retryRange struct {
	lo, hi int64
	set    func(p *RetryPolicy, v int64)
}

var retryKeys = map[string]retryRange{
	"ct": {100, 10000, func(p *RetryPolicy, v int64) { p.ConnectTimeout = time.Duration(v) * time.Millisecond }},
	"rt": {100, 40000, func(p *RetryPolicy, v int64) { p.ReadTimeout = time.Duration(v) * time.Millisecond }},
	"tt": {100, 55000, func(p *RetryPolicy, v int64) { p.TotalTimeout = time.Duration(v) * time.Millisecond }},
	"rc": {0, 5, func(p *RetryPolicy, v int64) { p.Retries = int(v) }},
}

var retryRegions = []string{"nearest", "local", "n_california", "n_virginia", "frankfurt", "singapore", "mumbai"}

// ParseRetryFragment reads a Plivo callback-retry fragment ("ct=3000&rc=3&rp=5xx,ct", without
// the '#'). It returns the policy and the problems found; a strict caller treats any problem as
// an invalid URL. Values out of range are clamped and bad tokens dropped in the returned policy.
func ParseRetryFragment(frag string) (RetryPolicy, []string) {
	pol, probs, _ := parseRetryFragment(frag, nil)
	return pol, probs
}

func parseRetryFragment(frag string, warns []string) (RetryPolicy, []string, []string) {
	pol := DefaultRetryPolicy()
	pol.FromFragment = true
	var probs []string
	for _, kv := range strings.Split(frag, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		switch k {
		case "ct", "rt", "tt", "rc":
			r := retryKeys[k]
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				probs = append(probs, fmt.Sprintf("%s=%q is not a whole number", k, v))
				continue
			}
			if n < r.lo || n > r.hi {
				probs = append(probs, fmt.Sprintf("%s=%d is outside %d–%d", k, n, r.lo, r.hi))
				n = max(r.lo, min(n, r.hi))
			}
			r.set(&pol, n)
		case "rp":
			var set RetryClass
			bad := false
			for _, tok := range strings.Split(v, ",") {
				switch strings.ToLower(strings.TrimSpace(tok)) {
				case "4xx":
					set |= Retry4xx
				case "5xx":
					set |= Retry5xx
				case "ct":
					set |= RetryConnectTimeout
				case "rt":
					set |= RetryReadTimeout
				case "all":
					set |= RetryAll
				default:
					probs = append(probs, fmt.Sprintf("rp token %q is not one of 4xx, 5xx, ct, rt, all", tok))
					bad = true
				}
			}
			if !bad || set != 0 {
				pol.RetryOn = set
			}
		case "er":
			ok := false
			for _, r := range retryRegions {
				if strings.EqualFold(v, r) {
					pol.Region, ok = r, true
				}
			}
			if !ok {
				// The bridge has one egress, so the region never matters: accept and ignore
				// it (callbacks.md §3.7), but say that Plivo would not know it.
				warns = append(warns, fmt.Sprintf("retry fragment er=%q is not a Plivo region (%s); ignored", v, strings.Join(retryRegions, ", ")))
			}
		default:
			warns = append(warns, fmt.Sprintf("retry fragment key %q is unknown and ignored (known: ct, rt, tt, rc, rp, er)", k))
		}
	}
	return pol, probs, warns
}
