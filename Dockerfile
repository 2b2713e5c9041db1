FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /envmon ./cmd/envmon

FROM gcr.io/distroless/static-debian12
COPY --from=build /envmon /envmon
EXPOSE 8080 1883
ENTRYPOINT ["/envmon"]
CMD ["serve"]
