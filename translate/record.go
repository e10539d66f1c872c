package translate

import (
	"fmt"
	"strings"
	"time"
)

// This file holds what the CarrierX (record_flexml.go) and Plivo (record_plivo.go) <Record>
// parsers share. Each dialect parser reads its attributes in its own order and decides the
// dialect rules of record.md §1 and §2; the helpers here do the parts that are spelled the same
// way in both: the skeleton of the neutral model, URL+method pairs, attributes that lose their
// effect in a mode, and the shared "ignored attributes are not validated" rule.
//
// Ignored attributes (background mode, missing companion attribute, external storage) are
// marked read with a warning and never validated: the vendors never look at them, so a bad
// value there must not fail a document that runs fine on the vendor. The warning is there
// because a porting developer who wrote the attribute expected it to do something.

// Limits shared by both dialects' duration attributes.
const (
	noUpperBound   = 1<<63 - 1 // SecondsSet caps this to the largest time.Duration
	ruleSecondsGE1 = "must be a whole number of seconds, at least 1"
)

// newRecord starts a Record with what does not depend on the dialect's attributes: position,
// dialect, document URL, mono capture and a new file in bridge-managed storage.
func newRecord(p *parser, n *node, name string) *Record {
	return &Record{
		VerbBase:    VerbBase{Pos: p.s.pos(n.off), Name: name},
		Dialect:     p.dialect,
		DocumentURL: p.base,
		Channels:    1,
		Storage:     Storage{Kind: StorageManaged, WriteMode: WriteNew},
	}
}

// recordTarget reads a callback URL and its method attribute (methodName "" = always POST).
// Without the URL the method has no effect and is ignored with a warning.
func recordTarget(a *attrReader, urlName, methodName string) *Target {
	if !a.present(urlName) {
		if methodName != "" {
			a.Ignore("without "+urlName, methodName)
		}
		return nil
	}
	return a.Target(urlName, methodName, POST)
}

// recordAction builds the Action of a target: Disposition none when there is no URL (absent,
// or dropped as invalid in lenient mode), else disp.
func recordAction(t *Target, disp Disposition) Action {
	if t == nil {
		return Action{Disposition: DispositionNone}
	}
	return Action{Target: t, Disposition: disp}
}

// backgroundAttr names the attribute that put a Record in a background mode, for warnings
// about attributes that lose their effect there. It is "" in foreground mode.
func backgroundAttr(m RecordMode, sessionAttr, dialAttr string) string {
	switch m {
	case ModeSession:
		return sessionAttr
	case ModeDial:
		return dialAttr
	}
	return ""
}

// whenTrue is the end of a "has no effect …" warning about a background flag.
func whenTrue(flag string) string { return "when " + flag + `="true"` }

// foregroundOnly reads the silence timeout, finish keys and beep of a foreground Record. In a
// background mode they are zero and the attributes are ignored with a warning (record.md §1.1
// rule 8, §2.1 rule 5), because nothing listens for silence or keys and nobody hears a beep.
func foregroundOnly(a *attrReader, r *Record, flag string, timeout time.Duration, keys KeySet, beep bool) {
	if flag != "" {
		a.Ignore(whenTrue(flag), "timeout", "finishOnKey", "playBeep")
		return
	}
	r.SilenceTimeout = a.Seconds("timeout", timeout, 1, noUpperBound, ruleSecondsGE1)
	r.FinishKeys = a.Keys("finishOnKey", keys)
	r.Beep = a.Bool("playBeep", beep)
}

// ruleEvents is the rule of CarrierX recordingStatusCallbackEvent.
const ruleEvents = "must be a comma-separated list, without spaces, of completed, failed and absent"

// statusEvents reads recordingStatusCallbackEvent: a comma-separated subset of completed,
// failed, absent, default completed,failed. Tokens match case-insensitively like every other
// enumerated value (record.md §0); duplicates collapse; the result is in canonical order so
// that equal subscriptions compare equal.
func statusEvents(a *attrReader, name string) []RecordingStatus {
	def := []RecordingStatus{StatusCompleted, StatusFailed}
	at := a.lookup(name)
	if at == nil {
		return def
	}
	var seen [3]bool
	all := [3]RecordingStatus{StatusCompleted, StatusFailed, StatusAbsent}
	for _, tok := range strings.Split(at.value, ",") {
		i := 0
		for i < len(all) && !strings.EqualFold(tok, string(all[i])) {
			i++
		}
		if i == len(all) { // also catches "" (",," or a trailing comma) and " failed"
			a.invalid(at, fmt.Sprintf("%s (%q is not one of them)", ruleEvents, tok))
			return def
		}
		seen[i] = true
	}
	var out []RecordingStatus
	for i, s := range all {
		if seen[i] {
			out = append(out, s)
		}
	}
	return out
}

// storageProvider is one external-storage provider of record.md §1.3.
type storageProvider struct {
	kind     StorageKind
	label    string
	attrs    []storageAttr // every attribute of the provider, in the spec's order
	required []string      // attributes that must all be given
	oneOf    [][]string    // at least one group must be complete; nil = no such rule
}

// storageAttr is one external-storage attribute and where its value goes.
type storageAttr struct {
	name string
	set  func(c *Credentials, v string)
}

// storageProviders returns the provider table. It is a function, not a package variable, so
// that no caller can change it.
// storageProviders is read-only: the table of external-storage attribute sets.
var storageProviders = []storageProvider{
	{
		kind: StorageS3, label: "S3",
		attrs: []storageAttr{
			{"awsAccessKey", func(c *Credentials, v string) { c.AWSAccessKey = NewSecret(v) }},
			{"awsSecretKey", func(c *Credentials, v string) { c.AWSSecretKey = NewSecret(v) }},
			{"awsBucketName", func(c *Credentials, v string) { c.AWSBucket = v }},
		},
		required: []string{"awsAccessKey", "awsSecretKey", "awsBucketName"},
	},
	{
		kind: StorageGCS, label: "Google Cloud Storage",
		attrs: []storageAttr{
			{"gcpBucketName", func(c *Credentials, v string) { c.GCPBucket = v }},
			{"gcpProject", func(c *Credentials, v string) { c.GCPProject = v }},
			{"gcpAccessToken", func(c *Credentials, v string) { c.GCPAccessToken = NewSecret(v) }},
			{"gcpRefreshToken", func(c *Credentials, v string) { c.GCPRefreshToken = NewSecret(v) }},
			{"gcpClientId", func(c *Credentials, v string) { c.GCPClientID = NewSecret(v) }},
			{"gcpClientSecret", func(c *Credentials, v string) { c.GCPClientSecret = NewSecret(v) }},
		},
		required: []string{"gcpBucketName", "gcpProject"},
		oneOf:    [][]string{{"gcpAccessToken"}, {"gcpRefreshToken", "gcpClientId", "gcpClientSecret"}},
	},
	{
		kind: StorageAzure, label: "Azure Blob",
		attrs: []storageAttr{
			{"azureAccountName", func(c *Credentials, v string) { c.AzureAccountName = v }},
			{"azureContainerName", func(c *Credentials, v string) { c.AzureContainerName = v }},
			{"azureAccountKey", func(c *Credentials, v string) { c.AzureAccountKey = NewSecret(v) }},
			{"azureSasToken", func(c *Credentials, v string) { c.AzureSASToken = NewSecret(v) }},
		},
		required: []string{"azureAccountName", "azureContainerName"},
		oneOf:    [][]string{{"azureAccountKey"}, {"azureSasToken"}},
	},
}

// externalStorage reads the external-storage attributes (record.md §1.3) into st. It reports
// false, and leaves st alone, when none is given. A mixed or incomplete set is not a document
// error: st.Invalid says why, a warning is added, and the recording fails at run time so that
// errorAction runs, as the spec requires.
func externalStorage(p *parser, n *node, a *attrReader, st *Storage) bool {
	if !hasStoragePrefix(a.n) {
		return false // the usual case: no external storage, nothing to allocate
	}
	creds := &Credentials{}
	var used []storageProvider
	var given [][]string // per used provider, the attributes given
	for _, pr := range storageProviders {
		var names []string
		for _, sa := range pr.attrs {
			if at := a.lookup(sa.name); at != nil {
				sa.set(creds, at.value)
				names = append(names, sa.name)
			}
		}
		if len(names) > 0 {
			used = append(used, pr)
			given = append(given, names)
		}
	}
	if len(used) == 0 {
		return false
	}
	// With several providers Kind names the first in the spec's order; Invalid makes the
	// recording fail whatever Kind says, so the choice only affects what logs show.
	*st = Storage{Kind: used[0].kind, WriteMode: WriteNew, Credentials: creds}
	if len(used) > 1 {
		var parts []string
		for i, pr := range used {
			parts = append(parts, pr.label+": "+strings.Join(given[i], ", "))
		}
		st.Invalid = "attributes of several providers are given (" + strings.Join(parts, "; ") + "); use exactly one"
	} else {
		st.Invalid = missingStorageAttrs(used[0], given[0])
	}
	if st.Invalid != "" {
		p.warnf(n, "", "external storage: %s; the recording will fail at run time and errorAction runs", st.Invalid)
	}
	return true
}

// missingStorageAttrs says what a provider's given attributes lack, or "" when they are complete.
func missingStorageAttrs(pr storageProvider, given []string) string {
	has := func(name string) bool {
		for _, g := range given {
			if g == name {
				return true
			}
		}
		return false
	}
	var missing []string
	for _, req := range pr.required {
		if !has(req) {
			missing = append(missing, req)
		}
	}
	var probs []string
	if len(missing) > 0 {
		probs = append(probs, "missing "+strings.Join(missing, ", "))
	}
	if len(pr.oneOf) > 0 {
		ok := false
		var alts []string
		for _, group := range pr.oneOf {
			complete := true
			for _, name := range group {
				complete = complete && has(name)
			}
			ok = ok || complete
			if len(group) == 1 {
				alts = append(alts, group[0])
			} else {
				alts = append(alts, "all of "+strings.Join(group, ", "))
			}
		}
		if !ok {
			probs = append(probs, "needs "+strings.Join(alts, " or "))
		}
	}
	if len(probs) == 0 {
		return ""
	}
	return pr.label + " " + strings.Join(probs, "; ")
}

// hasStoragePrefix reports whether any attribute may be an external-storage one.
func hasStoragePrefix(n *node) bool {
	for _, at := range n.attrs {
		for _, p := range [...]string{"aws", "gcp", "azure"} {
			if len(at.name) > len(p) && strings.EqualFold(at.name[:len(p)], p) {
				return true
			}
		}
	}
	return false
}
