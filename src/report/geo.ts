/**
 * Geography for the maps: outline topologies from world-atlas / us-atlas, point-in-polygon lookup of the true
 * continent / state / borough of each entity (for colouring), great-circle error, and map-kind detection.
 */
import { createRequire } from 'node:module';
import { feature } from 'topojson-client';
import { quantile } from '../neurons/index.js';
import { CONTINENT_OF_COUNTRY } from './continents.js';
import type { GeoJsonCollection, MapKind } from './types.js';

const requireJson = createRequire(import.meta.url);

// biome-ignore lint/suspicious/noExplicitAny: TopoJSON topologies are plain JSON objects.
export type Topology = any;

const topologies = new Map<string, Topology>();

/** A TopoJSON file shipped by an npm package, e.g. 'world-atlas/countries-110m.json'. Cached. */
export function loadTopology(specifier: string): Topology {
  let topo = topologies.get(specifier);
  if (!topo) {
    topo = requireJson(specifier);
    topologies.set(specifier, topo);
  }
  return topo;
}

export const WORLD_TOPOLOGY = 'world-atlas/countries-110m.json';
export const US_TOPOLOGY = 'us-atlas/states-10m.json';

type Ring = Float64Array; // x0,y0,x1,y1,...
interface Region {
  name: string;
  bbox: [number, number, number, number];
  polygons: Ring[][]; // polygon -> rings (first outer, rest holes; even-odd rule)
}

function ringsOf(geometry: { type: string; coordinates: unknown } | null): number[][][][] {
  if (!geometry) return [];
  if (geometry.type === 'Polygon') return [geometry.coordinates as number[][][]];
  if (geometry.type === 'MultiPolygon') return geometry.coordinates as number[][][][];
  return [];
}

function toRegion(name: string, geometry: { type: string; coordinates: unknown } | null): Region {
  const bbox: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
  const polygons = ringsOf(geometry).map((polygon) =>
    polygon.map((ring) => {
      const flat = new Float64Array(ring.length * 2);
      ring.forEach(([x, y], i) => {
        flat[2 * i] = x;
        flat[2 * i + 1] = y;
        if (x < bbox[0]) bbox[0] = x;
        if (y < bbox[1]) bbox[1] = y;
        if (x > bbox[2]) bbox[2] = x;
        if (y > bbox[3]) bbox[3] = y;
      });
      return flat;
    }),
  );
  return { name, bbox, polygons };
}

function insideRing(ring: Ring, x: number, y: number): boolean {
  let inside = false;
  const n = ring.length / 2;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = ring[2 * i];
    const yi = ring[2 * i + 1];
    const xj = ring[2 * j];
    const yj = ring[2 * j + 1];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function insideRegion(region: Region, x: number, y: number): boolean {
  const [x0, y0, x1, y1] = region.bbox;
  if (x < x0 || x > x1 || y < y0 || y > y1) return false;
  for (const polygon of region.polygons) {
    let inside = false;
    for (const ring of polygon) if (insideRing(ring, x, y)) inside = !inside;
    if (inside) return true;
  }
  return false;
}

/** Finds the region containing a point; points in no region (coasts, small islands) get the nearest outline's. */
export class RegionIndex {
  private readonly regions: Region[];
  constructor(regions: Region[]) {
    this.regions = regions.filter((r) => r.polygons.length > 0);
  }

  static fromGeoJson(
    collection: GeoJsonCollection,
    nameOf: (props: Record<string, unknown>) => string,
  ): RegionIndex {
    return new RegionIndex(collection.features.map((f) => toRegion(nameOf(f.properties ?? {}), f.geometry)));
  }

  get names(): string[] {
    return this.regions.map((r) => r.name);
  }

  locate(lon: number, lat: number): string | undefined {
    if (!Number.isFinite(lon) || !Number.isFinite(lat)) return undefined;
    for (const region of this.regions) if (insideRegion(region, lon, lat)) return region.name;
    return this.nearest(lon, lat);
  }

  private nearest(lon: number, lat: number): string | undefined {
    const scale = Math.cos((lat * Math.PI) / 180) ** 2;
    let best: string | undefined;
    let bestD = Infinity;
    for (const region of this.regions) {
      const [x0, y0, x1, y1] = region.bbox;
      const dx = lon < x0 ? x0 - lon : lon > x1 ? lon - x1 : 0;
      const dy = lat < y0 ? y0 - lat : lat > y1 ? lat - y1 : 0;
      if (dx * dx * scale + dy * dy >= bestD) continue; // the bbox is already farther than the best vertex
      for (const polygon of region.polygons) {
        const ring = polygon[0];
        for (let i = 0; i < ring.length; i += 2) {
          const ddx = ring[i] - lon;
          const ddy = ring[i + 1] - lat;
          const d = ddx * ddx * scale + ddy * ddy;
          if (d < bestD) {
            bestD = d;
            best = region.name;
          }
        }
      }
    }
    return best;
  }
}

let worldIndex: RegionIndex | undefined;
let usIndex: RegionIndex | undefined;

export function worldCountries(): RegionIndex {
  if (!worldIndex) {
    const topo = loadTopology(WORLD_TOPOLOGY);
    const fc = feature(topo, topo.objects.countries) as unknown as GeoJsonCollection;
    worldIndex = RegionIndex.fromGeoJson(fc, (p) => String(p['name']));
  }
  return worldIndex;
}

export function usStates(): RegionIndex {
  if (!usIndex) {
    const topo = loadTopology(US_TOPOLOGY);
    const fc = feature(topo, topo.objects.states) as unknown as GeoJsonCollection;
    usIndex = RegionIndex.fromGeoJson(fc, (p) => String(p['name']));
  }
  return usIndex;
}

/** The continent a true position lies in (Natural Earth countries; nearest country off the coast). */
export function continentOf(lon: number, lat: number): string {
  const country = worldCountries().locate(lon, lat);
  return (country && CONTINENT_OF_COUNTRY.get(country)) ?? 'Unknown';
}

const BOROUGH_KEYS = ['boro_name', 'BoroName', 'borough_name', 'borough', 'BOROUGH', 'name', 'NAME'];

/** Region index over user-given borough outlines; the name comes from the first borough-like string property. */
export function boroughIndex(collection: GeoJsonCollection): RegionIndex {
  return RegionIndex.fromGeoJson(collection, (props) => {
    for (const key of BOROUGH_KEYS) if (typeof props[key] === 'string') return props[key] as string;
    const first = Object.values(props).find((v) => typeof v === 'string');
    return typeof first === 'string' ? first : 'unnamed';
  });
}

/** Which map suits a space dataset: by its name when it is one of the paper's, else by the extent of the truth. */
export function detectMapKind(datasetName: string, lon: Float64Array, lat: Float64Array): MapKind {
  const name = datasetName.toLowerCase();
  if (/nyc|new_york/.test(name)) return 'nyc';
  if (/^us_|usa|us_place/.test(name)) return 'us';
  if (/world/.test(name)) return 'world';
  const [lons, lats] = [lon.filter(Number.isFinite), lat.filter(Number.isFinite)];
  const [lonLo, lonHi, latLo, latHi] = [
    quantile(lons, 0.05),
    quantile(lons, 0.95),
    quantile(lats, 0.05),
    quantile(lats, 0.95),
  ];
  if (lonLo > -74.4 && lonHi < -73.6 && latLo > 40.4 && latHi < 41) return 'nyc';
  if (lonLo > -125 && lonHi < -66 && latLo > 24 && latHi < 50) return 'us';
  return 'world';
}
