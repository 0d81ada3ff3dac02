// Type-checks one dashboard JSON (pasted in below by
// test_dashboards_schema.py) against Grafana's published schema, @grafana/schema.
import type { AnnotationQuery, Dashboard, DataQuery } from '@grafana/schema';

// JSON carries enum values as plain strings ("value", "absolute"): compare them by
// value, not by TypeScript's nominal enum types. Everything else stays as published,
// including excess-property checks on every object.
type Loose<T> = T extends string
  ? `${T}`
  : T extends (infer U)[]
    ? Loose<U>[]
    : T extends object
      ? { [K in keyof T]: Loose<T[K]> }
      : T;

// DataQuery is meant to be extended by each data source ("Specific implementations will
// *extend* this interface"), and AnnotationQuery takes the query type as a parameter. These
// are the Prometheus fields the dashboard's annotation uses (Grafana's Prometheus annotation
// support reads the query from `target` and the formatting options from the annotation).
interface PrometheusQuery extends DataQuery {
  expr: string;
  interval?: string;
}
interface PrometheusAnnotation extends AnnotationQuery<PrometheusQuery> {
  titleFormat?: string;
  textFormat?: string;
  tagKeys?: string;
  useValueForTime?: boolean;
}
type Checked = Omit<Dashboard, 'annotations'> & {
  annotations?: { list?: Array<AnnotationQuery | PrometheusAnnotation> };
};

const dashboard: Loose<Checked> = DASHBOARD_JSON;
export default dashboard;
