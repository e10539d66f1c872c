package adapter

import (
	"strings"
	"testing"
)

func TestRedactDocument(t *testing.T) {
	doc := `<Record finishOnKey="#" awsAccessKey="AKIAEXAMPLE" awsSecretKey='s3cr3t' gcpRefreshToken="tok"
  azureAccountKey="k==" azureSasToken="sv=1" callbackUrl="https://user:pa55@app.example/cb"/>`
	got := RedactDocument(doc)
	for _, secret := range []string{"AKIAEXAMPLE", "s3cr3t", `"tok"`, "k==", "sv=1", "pa55", "user:"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q survives redaction: %s", secret, got)
		}
	}
	for _, kept := range []string{`finishOnKey="#"`, `awsSecretKey="[redacted]"`, "https://[redacted]@app.example/cb"} {
		if !strings.Contains(got, kept) {
			t.Errorf("%q is missing: %s", kept, got)
		}
	}
}
