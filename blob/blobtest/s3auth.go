package blobtest

import (
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// S3Auth puts SigV4 verification in front of an S3 emulator that does not check signatures
// (gofakes3): it recomputes each request's signature, over the headers the request says it
// signed, with the one key pair it knows, and answers 403 as S3 does when they differ.
func S3Auth(next http.Handler, accessKey, secretKey, region string) http.Handler {
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}
	deny := func(w http.ResponseWriter, code string) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>denied</Message></Error>`))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		cred := field(auth, "Credential=")
		if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.HasPrefix(cred, accessKey+"/") {
			deny(w, "InvalidAccessKeyId")
			return
		}
		when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
		if err != nil {
			deny(w, "AccessDenied")
			return
		}
		check, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
		check.Host = r.Host
		for _, h := range strings.Split(field(auth, "SignedHeaders="), ";") {
			if h == "host" {
				continue
			}
			if h == "content-length" {
				check.ContentLength = r.ContentLength
				continue
			}
			for _, v := range r.Header.Values(h) {
				check.Header.Add(h, v)
			}
		}
		err = signer.SignHTTP(r.Context(), creds, check, r.Header.Get("X-Amz-Content-Sha256"), "s3", region, when,
			func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		if err != nil || field(check.Header.Get("Authorization"), "Signature=") != field(auth, "Signature=") {
			deny(w, "SignatureDoesNotMatch")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// field is the value of name in an Authorization header's comma-separated list.
func field(auth, name string) string {
	i := strings.Index(auth, name)
	if i < 0 {
		return ""
	}
	v := auth[i+len(name):]
	if j := strings.IndexByte(v, ','); j >= 0 {
		v = v[:j]
	}
	return strings.TrimSpace(v)
}
