package translate

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// These tests assert record.md rules directly on the typed *Record, independently of the
// golden files (which pin the rendered form and the diagnostics).

const recBase = "https://app.example.net/app/doc.xml"

// parseRecord parses <Response><Record attrs/></Response> and returns its only verb.
func parseRecord(t *testing.T, d Dialect, attrs string, opts Options) (*Record, []Warning) {
	t.Helper()
	base, _ := url.Parse(recBase)
	doc := "<Response><Record " + attrs + "/></Response>"
	prog, warns, err := ParseOptions(d, []byte(doc), base, opts)
	if err != nil {
		t.Fatalf("%s %s: unexpected error: %v", d, doc, err)
	}
	if len(prog.Verbs) != 1 {
		t.Fatalf("%s %s: got %d verbs, want 1", d, doc, len(prog.Verbs))
	}
	r, ok := prog.Verbs[0].(*Record)
	if !ok {
		t.Fatalf("%s %s: verb is %T, want *Record", d, doc, prog.Verbs[0])
	}
	return r, warns
}

// parseRecordErr parses a single <Record> that must be refused, and returns the errors.
func parseRecordErr(t *testing.T, d Dialect, attrs string) ErrorList {
	t.Helper()
	_, _, err := Parse(d, []byte("<Response><Record "+attrs+"/></Response>"), nil)
	var list ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("%s <Record %s/>: got error %v, want an ErrorList", d, attrs, err)
	}
	return list
}

// warned reports whether a warning about attr contains text.
func warned(warns []Warning, attr, text string) bool {
	for _, w := range warns {
		if w.Attr == attr && strings.Contains(w.Msg, text) {
			return true
		}
	}
	return false
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestRecordDefaults(t *testing.T) {
	tests := []struct {
		dialect Dialect
		attrs   string
		want    Record
	}{
		{FlexML, "", Record{
			Mode: ModeForeground, Tracks: TracksBoth, Channels: 1, Format: FormatWAV,
			MaxDuration: 3600 * time.Second, SilenceTimeout: 5 * time.Second, FinishKeys: AllKeys,
			Beep: false, Trim: TrimEdges, Action: Action{Disposition: DispositionNone},
			ActionWhenEmpty: EmptySkip, Storage: Storage{Kind: StorageManaged, WriteMode: WriteNew},
		}},
		{FlexML, `recordSession="true"`, Record{
			Mode: ModeSession, Tracks: TracksBoth, Channels: 1, Format: FormatWAV,
			MaxDuration: 0, SilenceTimeout: 0, FinishKeys: 0, Beep: false, Trim: TrimEdges,
			Action: Action{Disposition: DispositionNone}, ActionWhenEmpty: EmptySkip,
			Storage: Storage{Kind: StorageManaged, WriteMode: WriteNew},
		}},
		{Plivo, "", Record{
			Mode: ModeForeground, Tracks: TracksIn, Channels: 1, Format: FormatMP3,
			MaxDuration: 60 * time.Second, SilenceTimeout: 15 * time.Second, FinishKeys: keyBit('#'),
			Beep: true, Trim: TrimTailOnSilence, Action: Action{Disposition: DispositionNone},
			ActionWhenEmpty: EmptySend, Storage: Storage{Kind: StorageManaged, WriteMode: WriteNew},
		}},
		{Plivo, `recordSession="true"`, Record{
			Mode: ModeSession, Tracks: TracksBoth, Channels: 2, Format: FormatMP3,
			MaxDuration: 60 * time.Second, Trim: TrimTailOnSilence,
			Action: Action{Disposition: DispositionNone}, ActionWhenEmpty: EmptySend, ActionAtStart: true,
			Storage: Storage{Kind: StorageManaged, WriteMode: WriteNew},
		}},
		{Plivo, `startOnDialAnswer="true"`, Record{
			Mode: ModeDial, Tracks: TracksBoth, Channels: 2, Format: FormatMP3,
			MaxDuration: 60 * time.Second, Trim: TrimTailOnSilence,
			Action: Action{Disposition: DispositionNone}, ActionWhenEmpty: EmptySend, ActionAtStart: true,
			Storage: Storage{Kind: StorageManaged, WriteMode: WriteNew},
		}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.dialect, tt.attrs), func(t *testing.T) {
			r, _ := parseRecord(t, tt.dialect, tt.attrs, Options{})
			want := tt.want
			want.VerbBase = VerbBase{Pos: Pos{Line: 1, Col: 11}, Name: "Record"}
			want.Dialect = tt.dialect
			want.DocumentURL = mustURL(recBase)
			if !reflect.DeepEqual(*r, want) {
				t.Errorf("got\n%+v\nwant\n%+v", *r, want)
			}
		})
	}
}

// TestRecordMapping walks record.md §3.1 row by row, for both dialects.
func TestRecordMapping(t *testing.T) {
	target := func(u string, m Method) *Target {
		return &Target{URL: mustURL(u), Method: m, Retry: DefaultRetryPolicy()}
	}
	i64 := func(v int64) *int64 { return &v }
	str := func(v string) *string { return &v }
	type row struct {
		dialect Dialect
		attrs   string
		want    any
	}
	tests := []struct {
		field string
		get   func(*Record) any
		rows  []row
	}{
		{"Mode", func(r *Record) any { return r.Mode }, []row{
			{FlexML, ``, ModeForeground},
			{FlexML, `recordSession="false"`, ModeForeground},
			{FlexML, `recordSession="true"`, ModeSession},
			{Plivo, ``, ModeForeground},
			{Plivo, `recordSession="true"`, ModeSession},
			{Plivo, `startOnDialAnswer="true"`, ModeDial},
			{Plivo, `recordSession="true" startOnDialAnswer="true"`, ModeSession},
		}},
		{"Tracks", func(r *Record) any { return r.Tracks }, []row{
			{FlexML, `direction="in"`, TracksIn},
			{FlexML, `direction="out"`, TracksOut},
			{FlexML, `direction="any"`, TracksBoth},
			{FlexML, `direction="out" recordSession="true"`, TracksOut},
			{FlexML, `backgroundAudioUrl="/hold.mp3"`, TracksIn},
			{FlexML, `backgroundAudioUrl="/hold.mp3" direction="out"`, TracksIn},
			{FlexML, `backgroundAudioUrl="/hold.mp3" recordSession="true"`, TracksBoth}, // ignored there
			{Plivo, ``, TracksIn},
			{Plivo, `recordSession="true"`, TracksBoth},
			{Plivo, `startOnDialAnswer="true"`, TracksBoth},
		}},
		{"Channels", func(r *Record) any { return r.Channels }, []row{
			{FlexML, ``, 1},
			{FlexML, `recordSession="true"`, 1},
			{Plivo, ``, 1},
			{Plivo, `recordChannelType="stereo"`, 1}, // only the caller: nothing for channel 2
			{Plivo, `recordSession="true"`, 2},
			{Plivo, `recordSession="true" recordChannelType="mono"`, 1},
			{Plivo, `startOnDialAnswer="true"`, 2},
			{Plivo, `startOnDialAnswer="true" recordChannelType="mono"`, 1},
		}},
		{"Format", func(r *Record) any { return r.Format }, []row{
			{FlexML, ``, FormatWAV},
			{FlexML, `fileFormat="mp3"`, FormatMP3},
			{FlexML, `fileFormat="ul"`, FormatULaw},
			{Plivo, ``, FormatMP3},
			{Plivo, `fileFormat="wav"`, FormatWAV},
		}},
		{"MaxDuration", func(r *Record) any { return r.MaxDuration }, []row{
			{FlexML, ``, time.Hour},
			{FlexML, `maxLength="1"`, time.Second},
			{FlexML, `recordSession="true"`, time.Duration(0)},
			{FlexML, `recordSession="true" maxLength="7200"`, 2 * time.Hour},
			{Plivo, ``, time.Minute},
			{Plivo, `recordSession="true"`, time.Minute},
			{Plivo, `startOnDialAnswer="true"`, time.Minute},
			{Plivo, `maxLength="2"`, 2 * time.Second},
		}},
		{"SilenceTimeout", func(r *Record) any { return r.SilenceTimeout }, []row{
			{FlexML, ``, 5 * time.Second},
			{FlexML, `timeout="9"`, 9 * time.Second},
			{FlexML, `recordSession="true" timeout="9"`, time.Duration(0)},
			{Plivo, ``, 15 * time.Second},
			{Plivo, `timeout="3"`, 3 * time.Second},
			{Plivo, `recordSession="true" timeout="3"`, time.Duration(0)},
			{Plivo, `startOnDialAnswer="true" timeout="3"`, time.Duration(0)},
		}},
		{"FinishKeys", func(r *Record) any { return r.FinishKeys.String() }, []row{
			{FlexML, ``, "0123456789#*"},
			{FlexML, `finishOnKey="321"`, "123"},
			{FlexML, `finishOnKey="none"`, ""},
			{FlexML, `recordSession="true" finishOnKey="#"`, ""},
			{Plivo, ``, "#"},
			{Plivo, `finishOnKey="*5"`, "5*"},
			{Plivo, `finishOnKey="none"`, ""},
			{Plivo, `recordSession="true"`, ""},
			{Plivo, `startOnDialAnswer="true" finishOnKey="#"`, ""},
		}},
		{"Beep", func(r *Record) any { return r.Beep }, []row{
			{FlexML, ``, false},
			{FlexML, `playBeep="true"`, true},
			{FlexML, `recordSession="true" playBeep="true"`, false},
			{Plivo, ``, true},
			{Plivo, `playBeep="false"`, false},
			{Plivo, `recordSession="true" playBeep="true"`, false},
			{Plivo, `startOnDialAnswer="true"`, false},
		}},
		{"Trim", func(r *Record) any { return r.Trim }, []row{
			{FlexML, ``, TrimEdges},
			{FlexML, `trim="trim-silence"`, TrimEdges},
			{FlexML, `trim="do-not-trim"`, TrimNone},
			{FlexML, `trim="do-not-trim" recordSession="true"`, TrimNone},
			{Plivo, ``, TrimTailOnSilence},
			{Plivo, `recordSession="true"`, TrimTailOnSilence},
		}},
		{"BackgroundAudio", func(r *Record) any { return r.BackgroundAudio }, []row{
			{FlexML, ``, (*BackgroundAudio)(nil)},
			{FlexML, `backgroundAudioUrl="/hold.mp3"`, &BackgroundAudio{URL: mustURL("https://app.example.net/hold.mp3"), Loops: 1}},
			{FlexML, `backgroundAudioUrl="/h.mp3" backgroundAudioLoop="0"`, &BackgroundAudio{URL: mustURL("https://app.example.net/h.mp3"), Loops: 0}},
			{FlexML, `backgroundAudioUrl="/h.mp3" recordSession="true"`, (*BackgroundAudio)(nil)},
			{Plivo, `backgroundAudioUrl="/h.mp3"`, (*BackgroundAudio)(nil)}, // not a Plivo attribute
		}},
		{"Action", func(r *Record) any { return r.Action }, []row{
			{FlexML, ``, Action{Disposition: DispositionNone}},
			{FlexML, `action="/a"`, Action{Target: target("https://app.example.net/a", POST), Disposition: DispositionExecute}},
			{FlexML, `action="/a" method="GET"`, Action{Target: target("https://app.example.net/a", GET), Disposition: DispositionExecute}},
			{FlexML, `action="/a" recordSession="true"`, Action{Target: target("https://app.example.net/a", POST), Disposition: DispositionNotify}},
			{Plivo, ``, Action{Disposition: DispositionNone}},
			{Plivo, `action="https://x.example/a"`, Action{Target: target("https://x.example/a", POST), Disposition: DispositionExecute}},
			{Plivo, `action="https://x.example/a" redirect="false" method="GET"`, Action{Target: target("https://x.example/a", GET), Disposition: DispositionNotify}},
			{Plivo, `action="https://x.example/a" recordSession="true"`, Action{Target: target("https://x.example/a", POST), Disposition: DispositionExecute}},
		}},
		{"ActionWhenEmpty", func(r *Record) any { return r.ActionWhenEmpty }, []row{
			{FlexML, `action="/a"`, EmptySkip},
			{FlexML, `action="/a" recordSession="true"`, EmptySkip},
			{Plivo, `action="https://x.example/a"`, EmptySend},
		}},
		{"ActionAtStart", func(r *Record) any { return r.ActionAtStart }, []row{
			{FlexML, `action="/a"`, false},
			{FlexML, `action="/a" recordSession="true"`, false},
			{Plivo, `action="https://x.example/a"`, false},
			{Plivo, `action="https://x.example/a" recordSession="true"`, true},
			{Plivo, `action="https://x.example/a" startOnDialAnswer="true"`, true},
		}},
		{"ErrorAction", func(r *Record) any { return r.ErrorAction }, []row{
			{FlexML, ``, (*Target)(nil)},
			{FlexML, `errorAction="/e"`, target("https://app.example.net/e", POST)},
			{FlexML, `errorAction="/e" errorMethod="GET"`, target("https://app.example.net/e", GET)},
			{Plivo, `errorAction="https://x.example/e"`, (*Target)(nil)},
		}},
		{"FileCallback", func(r *Record) any { return r.FileCallback }, []row{
			{FlexML, `callbackUrl="/c"`, target("https://app.example.net/c", POST)},
			{Plivo, `callbackUrl="https://x.example/c"`, target("https://x.example/c", POST)},
			{Plivo, `callbackUrl="https://x.example/c" callbackMethod="GET"`, target("https://x.example/c", GET)},
		}},
		{"StatusCallback", func(r *Record) any { return r.StatusCallback }, []row{
			{FlexML, ``, (*StatusCallback)(nil)},
			{FlexML, `recordingStatusCallback="/s"`, &StatusCallback{Target: *target("https://app.example.net/s", POST), Events: []RecordingStatus{StatusCompleted, StatusFailed}}},
			{FlexML, `recordingStatusCallback="/s" recordingStatusCallbackEvent="absent,completed" recordingStatusCallbackMethod="GET"`,
				&StatusCallback{Target: *target("https://app.example.net/s", GET), Events: []RecordingStatus{StatusCompleted, StatusAbsent}}},
			{Plivo, `recordingStatusCallback="https://x.example/s"`, (*StatusCallback)(nil)},
		}},
		{"Transcription", func(r *Record) any { return r.Transcription }, []row{
			{FlexML, ``, Transcription{}},
			{FlexML, `transcribe="true"`, Transcription{Enabled: true, LowConfWord: "_", LowConfThreshold: 0.01, Timeout: 300 * time.Second, Language: "en"}},
			{FlexML, `transcribe="true" transcribeCallback="/t" transcribeLowConfidenceWordReplacement="?" transcribeLowConfidenceWordThreshold="0.5" transcribeTimeout="60"`,
				Transcription{Enabled: true, Callback: target("https://app.example.net/t", POST), LowConfWord: "?", LowConfThreshold: 0.5, Timeout: time.Minute, Language: "en"}},
			{FlexML, `transcribeCallback="/t"`, Transcription{}},
			{Plivo, ``, Transcription{}},
			{Plivo, `transcriptionType="auto"`, Transcription{}},
			{Plivo, `transcriptionUrl="https://x.example/t"`, Transcription{Enabled: true, Type: "auto", Callback: target("https://x.example/t", POST), Timeout: 30 * time.Minute, Language: "en"}},
			{Plivo, `transcriptionUrl="https://x.example/t" transcriptionType="hybrid" transcriptionMethod="GET"`,
				Transcription{Enabled: true, Type: "auto", Callback: target("https://x.example/t", GET), Timeout: 30 * time.Minute, Language: "en"}},
		}},
		{"Storage", func(r *Record) any { return r.Storage }, []row{
			{FlexML, `containerSid="c1"`, Storage{Kind: StorageManaged, ContainerID: "c1", WriteMode: WriteNew}},
			{FlexML, `fileSid="f1"`, Storage{Kind: StorageManaged, FileID: "f1", WriteMode: WriteAppend}},
			{FlexML, `fileSid="f1" fileMode="overwrite" containerSid="c1"`, Storage{Kind: StorageManaged, FileID: "f1", WriteMode: WriteOverwrite}},
			{FlexML, `fileMode="overwrite"`, Storage{Kind: StorageManaged, WriteMode: WriteNew}},
			{FlexML, `lifecycleTtl="60"`, Storage{Kind: StorageManaged, WriteMode: WriteNew, Lifecycle: &Lifecycle{Action: LifecycleDelete, TTL: time.Minute}}},
			{FlexML, `lifecycleTtl="60" lifecycleAction="no_action"`, Storage{Kind: StorageManaged, WriteMode: WriteNew, Lifecycle: &Lifecycle{Action: LifecycleNoAction, TTL: time.Minute}}},
			{FlexML, `lifecycleTtl="60" lifecycleAction="shred"`, Storage{Kind: StorageManaged, WriteMode: WriteNew, Lifecycle: &Lifecycle{Action: LifecycleNoAction, TTL: time.Minute}}},
			{FlexML, `lifecycleAction="delete"`, Storage{Kind: StorageManaged, WriteMode: WriteNew}},
			{FlexML, `integerKey1="-9223372036854775808" integerKey2="0" stringKey1="a" stringKey2="b"`,
				Storage{Kind: StorageManaged, WriteMode: WriteNew, Metadata: Metadata{IntegerKey1: i64(math.MinInt64), IntegerKey2: i64(0), StringKey1: str("a"), StringKey2: str("b")}}},
			{FlexML, `awsAccessKey="AK" awsSecretKey="SK" awsBucketName="b" containerSid="c1" fileSid="f1" lifecycleTtl="60"`,
				Storage{Kind: StorageS3, WriteMode: WriteNew, Credentials: &Credentials{AWSAccessKey: NewSecret("AK"), AWSSecretKey: NewSecret("SK"), AWSBucket: "b"}}},
			{Plivo, ``, Storage{Kind: StorageManaged, WriteMode: WriteNew}},
			{Plivo, `containerSid="c1" fileSid="f1" lifecycleTtl="60" integerKey1="1" awsBucketName="b"`, Storage{Kind: StorageManaged, WriteMode: WriteNew}},
		}},
	}
	for _, tt := range tests {
		for _, rw := range tt.rows {
			t.Run(fmt.Sprintf("%s/%s/%s", tt.field, rw.dialect, rw.attrs), func(t *testing.T) {
				r, _ := parseRecord(t, rw.dialect, rw.attrs, Options{})
				if got := tt.get(r); !reflect.DeepEqual(got, rw.want) {
					t.Errorf("%s = %#v, want %#v", tt.field, got, rw.want)
				}
			})
		}
	}
}

func TestRecordExternalStorage(t *testing.T) {
	const (
		s3   = `awsAccessKey="AK" awsSecretKey="SK" awsBucketName="b"`
		gcs  = `gcpBucketName="b" gcpProject="p"`
		azur = `azureAccountName="a" azureContainerName="c"`
	)
	tests := []struct {
		attrs   string
		kind    StorageKind
		invalid string // substring of Storage.Invalid; "" = valid
	}{
		{s3, StorageS3, ""},
		{`awsAccessKey="AK" awsBucketName="b"`, StorageS3, "missing awsSecretKey"},
		{`awsSecretKey="SK"`, StorageS3, "missing awsAccessKey, awsBucketName"},
		{gcs + ` gcpAccessToken="t"`, StorageGCS, ""},
		{gcs + ` gcpRefreshToken="r" gcpClientId="i" gcpClientSecret="s"`, StorageGCS, ""},
		{gcs + ` gcpAccessToken="t" gcpClientId="i"`, StorageGCS, ""},
		{gcs, StorageGCS, "needs gcpAccessToken or all of gcpRefreshToken, gcpClientId, gcpClientSecret"},
		{gcs + ` gcpRefreshToken="r" gcpClientSecret="s"`, StorageGCS, "needs gcpAccessToken or all of"},
		{`gcpAccessToken="t"`, StorageGCS, "missing gcpBucketName, gcpProject"},
		{azur + ` azureAccountKey="k"`, StorageAzure, ""},
		{azur + ` azureSasToken="s"`, StorageAzure, ""},
		{azur + ` azureAccountKey="k" azureSasToken="s"`, StorageAzure, ""},
		{azur, StorageAzure, "needs azureAccountKey or azureSasToken"},
		{`azureAccountName="a" azureSasToken="s"`, StorageAzure, "missing azureContainerName"},
		{s3 + ` gcpBucketName="b"`, StorageS3, "several providers"},
		{gcs + ` gcpAccessToken="t" azureAccountKey="k"`, StorageGCS, "several providers"},
	}
	for _, tt := range tests {
		t.Run(tt.attrs, func(t *testing.T) {
			// Strict mode: an unusable set is never a document error (record.md §1.3).
			r, warns := parseRecord(t, FlexML, tt.attrs, Options{})
			st := r.Storage
			if st.Kind != tt.kind || st.Credentials == nil || st.WriteMode != WriteNew {
				t.Errorf("Storage = %+v, want Kind %s, credentials, WriteMode new", st, tt.kind)
			}
			if tt.invalid == "" {
				if st.Invalid != "" {
					t.Errorf("Invalid = %q, want valid", st.Invalid)
				}
				return
			}
			if !strings.Contains(st.Invalid, tt.invalid) {
				t.Errorf("Invalid = %q, want it to contain %q", st.Invalid, tt.invalid)
			}
			if !warned(warns, "", "external storage: "+st.Invalid) {
				t.Errorf("no warning repeats Invalid; warnings: %v", warns)
			}
		})
	}
}

// TestRecordSecretsNeverPrinted: credentials do not appear in fmt output of the verb, in the
// program's JSON view, nor in diagnostics.
func TestRecordSecretsNeverPrinted(t *testing.T) {
	secrets := []string{"S3-SECRET", "GCP-TOKEN", "GCP-REFRESH", "GCP-CLIENT-SECRET", "AZ-KEY", "AZ-SAS"}
	doc := `<Response>
	<Record awsAccessKey="AK" awsSecretKey="S3-SECRET" awsBucketName="b"/>
	<Record gcpBucketName="b" gcpProject="p" gcpAccessToken="GCP-TOKEN" gcpRefreshToken="GCP-REFRESH" gcpClientId="id" gcpClientSecret="GCP-CLIENT-SECRET"/>
	<Record azureAccountName="a" azureContainerName="c" azureAccountKey="AZ-KEY" azureSasToken="AZ-SAS" awsSecretKey="S3-SECRET"/>
</Response>`
	prog, warns, err := Parse(FlexML, []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := prog.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	out.Write(j)
	out.WriteString(Diagnostics(nil, warns))
	for _, v := range prog.Verbs {
		r := v.(*Record)
		fmt.Fprintf(&out, "%v %+v %#v %v %+v", r, r, r, r.Storage.Credentials, *r.Storage.Credentials)
	}
	for _, s := range secrets {
		if strings.Contains(out.String(), s) {
			t.Errorf("secret %q was printed", s)
		}
	}
	// The values are still there for the storage client.
	if got := prog.Verbs[1].(*Record).Storage.Credentials.GCPClientSecret.Reveal(); got != "GCP-CLIENT-SECRET" {
		t.Errorf("Reveal = %q", got)
	}
}

// TestRecordWarnings checks the rules that are warnings, not errors.
func TestRecordWarnings(t *testing.T) {
	tests := []struct {
		dialect Dialect
		attrs   string
		attr    string // attribute the warning is about ("" = the element)
		text    string
	}{
		{FlexML, `recordSession="true" timeout="x"`, "timeout", `has no effect when recordSession="true"`},
		{FlexML, `recordSession="true" finishOnKey="#"`, "finishOnKey", `has no effect when recordSession="true"`},
		{FlexML, `recordSession="true" playBeep="true"`, "playBeep", `has no effect when recordSession="true"`},
		{FlexML, `recordSession="true" backgroundAudioUrl="/h.mp3"`, "backgroundAudioUrl", `has no effect when recordSession="true"`},
		{FlexML, `fileSid="f" containerSid="c"`, "containerSid", "has no effect when fileSid is set"},
		{FlexML, `fileMode="append"`, "fileMode", "has no effect without fileSid"},
		{FlexML, `lifecycleTtl="9" lifecycleAction="archive"`, "lifecycleAction", "treated as no_action"},
		{FlexML, `lifecycleAction="delete"`, "lifecycleAction", "has no effect without lifecycleTtl"},
		{FlexML, `awsBucketName="b" lifecycleTtl="9"`, "lifecycleTtl", "has no effect with external storage"},
		{FlexML, `direction="out" backgroundAudioUrl="/h.mp3"`, "direction", "only the caller is recorded"},
		{FlexML, `transcribeTimeout="9"`, "transcribeTimeout", `has no effect unless transcribe="true"`},
		{FlexML, `method="GET"`, "method", "has no effect without action"},
		{FlexML, `bogus="1"`, "bogus", "unknown attribute"},
		{FlexML, `MaxLength="9"`, "MaxLength", "canonical spelling is maxLength"},
		{Plivo, `recordSession="true" maxLength="9" timeout="x"`, "timeout", `has no effect when recordSession="true"`},
		{Plivo, `startOnDialAnswer="true" maxLength="9" playBeep="true"`, "playBeep", `has no effect when startOnDialAnswer="true"`},
		{Plivo, `recordSession="true" startOnDialAnswer="true" maxLength="9"`, "startOnDialAnswer", "recordSession wins"},
		{Plivo, `recordSession="true"`, "recordSession", "stops after 60 s"},
		{Plivo, `startOnDialAnswer="true"`, "startOnDialAnswer", "stops after 60 s"},
		{Plivo, `action="/rel"`, "action", "fully qualified URL"},
		{Plivo, `recordChannelType="stereo"`, "recordChannelType", "no effect in normal mode"},
		{Plivo, `transcriptionUrl="https://x.example/t" transcriptionType="hybrid"`, "transcriptionType", "legacy"},
		{Plivo, `transcriptionMethod="GET"`, "transcriptionMethod", "has no effect without transcriptionUrl"},
		{Plivo, `redirect="false"`, "redirect", "has no effect without action"},
		{Plivo, `direction="in"`, "direction", "unknown attribute"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.dialect, tt.attrs), func(t *testing.T) {
			_, warns := parseRecord(t, tt.dialect, tt.attrs, Options{})
			if !warned(warns, tt.attr, tt.text) {
				t.Errorf("no warning on %q containing %q; got %v", tt.attr, tt.text, warns)
			}
		})
	}
}

// TestRecordInvalid checks that invalid values are ErrInvalidValue document errors naming the
// attribute, and that lenient mode turns them into warnings with the default.
func TestRecordInvalid(t *testing.T) {
	tests := []struct {
		dialect Dialect
		attrs   string
		attr    string
		get     func(*Record) any
		lenient any // the field's value in lenient mode
	}{
		{FlexML, `maxLength="0"`, "maxLength", func(r *Record) any { return r.MaxDuration }, time.Hour},
		{FlexML, `timeout="-1"`, "timeout", func(r *Record) any { return r.SilenceTimeout }, 5 * time.Second},
		{FlexML, `direction="both"`, "direction", func(r *Record) any { return r.Tracks }, TracksBoth},
		{FlexML, `fileFormat="ogg"`, "fileFormat", func(r *Record) any { return r.Format }, FormatWAV},
		{FlexML, `finishOnKey="A"`, "finishOnKey", func(r *Record) any { return r.FinishKeys }, AllKeys},
		{FlexML, `recordingStatusCallback="/s" recordingStatusCallbackEvent="completed,done"`, "recordingStatusCallbackEvent",
			func(r *Record) any { return r.StatusCallback.Events }, []RecordingStatus{StatusCompleted, StatusFailed}},
		{FlexML, `recordingStatusCallback="/s" recordingStatusCallbackEvent="completed, failed"`, "recordingStatusCallbackEvent",
			func(r *Record) any { return r.StatusCallback.Events }, []RecordingStatus{StatusCompleted, StatusFailed}},
		{FlexML, `backgroundAudioUrl="/h" backgroundAudioLoop="-1"`, "backgroundAudioLoop", func(r *Record) any { return r.BackgroundAudio.Loops }, 1},
		{FlexML, `integerKey1="9223372036854775808"`, "integerKey1", func(r *Record) any { return r.Storage.Metadata.IntegerKey1 }, (*int64)(nil)},
		{FlexML, `lifecycleTtl="0"`, "lifecycleTtl", func(r *Record) any { return r.Storage.Lifecycle }, (*Lifecycle)(nil)},
		{FlexML, `transcribe="true" transcribeLowConfidenceWordThreshold="1.01"`, "transcribeLowConfidenceWordThreshold",
			func(r *Record) any { return r.Transcription.LowConfThreshold }, 0.01},
		{FlexML, `transcribe="true" transcribeTimeout="0"`, "transcribeTimeout", func(r *Record) any { return r.Transcription.Timeout }, 300 * time.Second},
		{FlexML, `action="ftp://x/a"`, "action", func(r *Record) any { return r.Action.Disposition }, DispositionNone},
		{FlexML, `action="/a#rc=6"`, "action", func(r *Record) any { return r.Action.Retry.Retries }, 5}, // lenient clamps
		{Plivo, `maxLength="1"`, "maxLength", func(r *Record) any { return r.MaxDuration }, time.Second}, // §2.2: lenient keeps 1
		{Plivo, `maxLength="0"`, "maxLength", func(r *Record) any { return r.MaxDuration }, time.Minute},
		{Plivo, `timeout="0"`, "timeout", func(r *Record) any { return r.SilenceTimeout }, 15 * time.Second},
		{Plivo, `fileFormat="ul"`, "fileFormat", func(r *Record) any { return r.Format }, FormatMP3},
		{Plivo, `recordChannelType="quad" recordSession="true"`, "recordChannelType", func(r *Record) any { return r.Channels }, 2},
		{Plivo, `action="https://x.example/a" redirect="1"`, "redirect", func(r *Record) any { return r.Action.Disposition }, DispositionExecute},
		{Plivo, `transcriptionUrl="https://x.example/t" transcriptionType="manual"`, "transcriptionType", func(r *Record) any { return r.Transcription.Type }, "auto"},
		{Plivo, `callbackUrl="https://x.example/c" callbackMethod="PUT"`, "callbackMethod", func(r *Record) any { return r.FileCallback.Method }, POST},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.dialect, tt.attrs), func(t *testing.T) {
			errs := parseRecordErr(t, tt.dialect, tt.attrs)
			var e *Error
			if !errors.As(errs, &e) || !errors.Is(e, ErrInvalidValue) || e.Attr != tt.attr || e.Element != "Record" {
				t.Errorf("got %v, want an invalid value of %s", errs, tt.attr)
			}
			r, warns := parseRecord(t, tt.dialect, tt.attrs, Options{Lenient: true})
			if got := tt.get(r); !reflect.DeepEqual(got, tt.lenient) {
				t.Errorf("lenient: got %#v, want %#v", got, tt.lenient)
			}
			if len(warns) == 0 {
				t.Errorf("lenient: no warning")
			}
		})
	}
}

func TestRecordURLs(t *testing.T) {
	// Retry fragment: parsed, then removed from the stored URL; query kept.
	r, _ := parseRecord(t, FlexML, `action="/a?x=1#ct=3000&amp;rc=3&amp;rp=5xx"`, Options{})
	if got := r.Action.URL.String(); got != "https://app.example.net/a?x=1" {
		t.Errorf("action URL = %s", got)
	}
	if p := r.Action.Retry; p.ConnectTimeout != 3*time.Second || p.Retries != 3 || p.RetryOn != Retry5xx || !p.FromFragment {
		t.Errorf("retry = %+v", p)
	}
	// A media URL keeps its fragment.
	r, _ = parseRecord(t, FlexML, `backgroundAudioUrl="/h.mp3#rc=3"`, Options{})
	if got := r.BackgroundAudio.URL.String(); got != "https://app.example.net/h.mp3#rc=3" {
		t.Errorf("background audio URL = %s", got)
	}
	// No document URL: relative stays relative; DocumentURL is nil.
	prog, _, err := Parse(Plivo, []byte(`<Response><Record action="next#rc=0"/></Response>`), nil)
	if err != nil {
		t.Fatal(err)
	}
	r = prog.Verbs[0].(*Record)
	if r.DocumentURL != nil || r.Action.URL.String() != "next" || r.Action.Retry.Retries != 0 {
		t.Errorf("DocumentURL = %v, action = %v retry %+v", r.DocumentURL, r.Action.URL, r.Action.Retry)
	}
}

func TestRecordPlacement(t *testing.T) {
	for _, tt := range []struct {
		dialect Dialect
		doc     string
	}{
		{FlexML, `<Response><Record><Play>x</Play></Record></Response>`},
		{FlexML, `<Response><Record>text</Record></Response>`},
		{Plivo, `<Response><Record><Speak>x</Speak></Record></Response>`},
		{Plivo, `<Response><Record>text</Record></Response>`},
	} {
		_, _, err := Parse(tt.dialect, []byte(tt.doc), nil)
		if !errors.Is(err, ErrNesting) {
			t.Errorf("%s %s: got %v, want ErrNesting", tt.dialect, tt.doc, err)
		}
	}
}
