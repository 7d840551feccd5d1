package engine

import (
	"context"
	"fmt"
	"os"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/oauth"

	"github.com/sluice-cdc/sluice/buildinfo"
)

// tokenFromFile returns the OAUTHBEARER credentials callback: it reads
// file at every authentication (each new broker connection), so a token
// that is rotated in place, as Kubernetes does with projected service
// account tokens, is picked up without a restart. Surrounding whitespace
// is dropped. Errors name the setting and never contain the token.
func tokenFromFile(file string) func(context.Context) (oauth.Auth, error) {
	return func(context.Context) (oauth.Auth, error) {
		data, err := os.ReadFile(file)
		if err != nil {
			return oauth.Auth{}, fmt.Errorf("kafka.sasl.token_file: %w; make the file readable by the user sluice runs as", err)
		}
		tok := strings.TrimSpace(string(data))
		if tok == "" {
			return oauth.Auth{}, fmt.Errorf("kafka.sasl.token_file: %s is empty; write the bearer token into it", file)
		}
		return oauth.Auth{Token: tok}, nil
	}
}

// mskIAM returns the AWS_MSK_IAM mechanism with credentials from the
// standard AWS chain (environment, shared config and credentials files,
// web identity tokens as on EKS, container and instance roles), cached
// and refreshed before they expire by the AWS SDK. The region comes from
// the broker's host name, else AWS_REGION.
func mskIAM() (sasl.Mechanism, error) {
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		return nil, fmt.Errorf("kafka.sasl.mechanism AWS_MSK_IAM: load the AWS configuration: %w; check AWS_PROFILE, AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE", err)
	}
	creds := cfg.Credentials
	return aws.ManagedStreamingIAM(func(ctx context.Context) (aws.Auth, error) {
		if creds == nil {
			return aws.Auth{}, fmt.Errorf("AWS_MSK_IAM: no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or give the process a role (EKS service account, ECS task role, EC2 instance profile)")
		}
		c, err := creds.Retrieve(ctx)
		if err != nil {
			return aws.Auth{}, fmt.Errorf("AWS_MSK_IAM: get AWS credentials: %w", err)
		}
		return aws.Auth{AccessKey: c.AccessKeyID, SecretKey: c.SecretAccessKey, SessionToken: c.SessionToken,
			UserAgent: "sluice/" + buildinfo.Version()}, nil
	}), nil
}
