package charts

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// scaledObject mirrors KEDA's keda.sh/v1alpha1 ScaledObject (its
// apis/keda/v1alpha1 scaledobject_types.go) without its status, so that a
// strict decode rejects any field KEDA would not know. KEDA's module is
// not imported: it would bring a controller runtime into go.mod for a
// dozen fields.
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              scaledObjectSpec `json:"spec"`
}

type scaledObjectSpec struct {
	ScaleTargetRef        *scaleTarget      `json:"scaleTargetRef"`
	PollingInterval       *int32            `json:"pollingInterval,omitempty"`
	InitialCooldownPeriod *int32            `json:"initialCooldownPeriod,omitempty"`
	CooldownPeriod        *int32            `json:"cooldownPeriod,omitempty"`
	IdleReplicaCount      *int32            `json:"idleReplicaCount,omitempty"`
	MinReplicaCount       *int32            `json:"minReplicaCount,omitempty"`
	MaxReplicaCount       *int32            `json:"maxReplicaCount,omitempty"`
	Advanced              *advancedConfig   `json:"advanced,omitempty"`
	Triggers              []scaleTriggers   `json:"triggers"`
	Fallback              *scaledObjectFall `json:"fallback,omitempty"`
}

type scaleTarget struct {
	Name                   string `json:"name"`
	APIVersion             string `json:"apiVersion,omitempty"`
	Kind                   string `json:"kind,omitempty"`
	EnvSourceContainerName string `json:"envSourceContainerName,omitempty"`
}

type advancedConfig struct {
	HorizontalPodAutoscalerConfig *hpaConfig        `json:"horizontalPodAutoscalerConfig,omitempty"`
	RestoreToOriginalReplicaCount bool              `json:"restoreToOriginalReplicaCount,omitempty"`
	ScalingModifiers              *scalingModifiers `json:"scalingModifiers,omitempty"`
}

type hpaConfig struct {
	Name     string                                         `json:"name,omitempty"`
	Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
}

type scalingModifiers struct {
	Formula          string                         `json:"formula,omitempty"`
	Target           string                         `json:"target,omitempty"`
	ActivationTarget string                         `json:"activationTarget,omitempty"`
	MetricType       autoscalingv2.MetricTargetType `json:"metricType,omitempty"`
}

type scaledObjectFall struct {
	FailureThreshold int32  `json:"failureThreshold"`
	Replicas         int32  `json:"replicas"`
	Behavior         string `json:"behavior,omitempty"`
}

type scaleTriggers struct {
	Type              string                         `json:"type"`
	Name              string                         `json:"name,omitempty"`
	UseCachedMetrics  bool                           `json:"useCachedMetrics,omitempty"`
	Metadata          map[string]string              `json:"metadata"`
	AuthenticationRef *authenticationRef             `json:"authenticationRef,omitempty"`
	MetricType        autoscalingv2.MetricTargetType `json:"metricType,omitempty"`
}

type authenticationRef struct {
	Name string `json:"name"`
	Kind string `json:"kind,omitempty"`
}

// natsJetStreamMetadata are the keys KEDA's nats-jetstream scaler reads
// from a trigger's metadata; any other key is a typo it would ignore.
var natsJetStreamMetadata = map[string]bool{
	"natsServerMonitoringEndpoint": true, "account": true, "stream": true, "consumer": true,
	"lagThreshold": true, "activationLagThreshold": true, "useHttps": true,
}
