module github.com/heraldhq/herald/providers

go 1.26.8
