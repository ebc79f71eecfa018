import { label, t } from "../i18n";

export function SeverityBadge({ severity }: { severity: string }) {
  return <span class={`badge severity severity-${severity}`}>{label("severity", severity)}</span>;
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge status status-${status}`}>{label("status", status)}</span>;
}

export function ExerciseBadge() {
  return (
    <strong class="badge exercise" data-testid="exercise-marker">
      {t("alert.exercise")}
    </strong>
  );
}
